/**
 * The deployment page, live, in a real browser (Debian's Chromium through playwright-core) against real processes:
 * a hub on a SQLite file, two agents, git over HTTP, and a release whose step prints a line a second. Progress and
 * log lines — markup among them, shown as text — appear on the deployment page and on the server's page without a
 * reload; the rollout pauses at its manual gate, the page shows the Continue button by itself, and the person
 * continues it from the page. Then an agent dies mid-step (SIGKILL): the open page says, without a reload and within
 * one heartbeat, that the agent has not been heard from and when its job fails.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, launchChromium } from '../../testbed/chromium.js';
import { pushCommit } from '../../testbed/git-repos.js';
import { sampleAppFiles } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';

const E2E_TIMEOUT = 150_000;
/** The hub's default heartbeat interval (BITENVOY_HEARTBEAT_SECONDS): what "within one heartbeat" means. */
const HEARTBEAT_MS = 60_000;

describe('the deployment page, live, in a real browser', () => {
  let world: World;
  let browser: Browser;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    // `canary` from the starter config: web-1 first, then a manual gate, then the rest.
    world = await startWorld({ agents: 2, strategy: 'canary' });
    browser = await launchChromium("the deployment page's real-browser test");
  }, 10 * 60_000);
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  async function openPage(path: string): Promise<Page> {
    context ??= await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    await page.goto(`${world.hub.url}${path}`);
    return page;
  }

  /** Marks the document: a reload makes a new one, without the mark. */
  const mark = (page: Page) => page.evaluate(() => ((globalThis as unknown as { liveMark: number }).liveMark = 42));
  const marked = (page: Page) => page.evaluate(() => (globalThis as unknown as { liveMark?: number }).liveMark === 42);

  it(
    'shows progress and log lines as they come without reloading, then the gate, and is continued from the page',
    async () => {
      const files = sampleAppFiles('ticking');
      files['bitenvoy.yml'] = `version: 1
steps:
  - name: tick <slowly>
    run: |
      for i in 1 2 3 4 5 6; do echo "tick $i <b>bold</b>"; sleep 1; done
    timeout: 2m
`;
      await pushCommit(world.appRepo, files, 'a release that ticks');
      const { deployment } = await world.deploy();
      const page = await openPage(`/deployments/${deployment.id}`);
      await mark(page);
      // No meta refresh runs with JavaScript on: the stream updates the page.
      expect(await page.locator('head meta[http-equiv="refresh"]').count()).toBe(0);

      // The first server's step and log lines arrive while the page stays the same document.
      await page.locator('#live pre', { hasText: 'tick 2 <b>bold</b>' }).waitFor({ timeout: 60_000 });
      expect(await marked(page)).toBe(true);
      expect(await page.locator('#live pre b').count()).toBe(0);
      expect(await page.locator('#live').innerText()).toContain('tick <slowly>');
      expect(await page.locator('#live-status').textContent()).toContain('Live');

      // The server's own page: its log grows line by line, its step table too.
      const view = await world.viewDeployment(deployment.id);
      const job = view!.jobs[0]!;
      const server = await openPage(`/deployments/${deployment.id}/servers/${job.id}`);
      await mark(server);
      expect(await server.locator('#follow').isChecked()).toBe(true);
      await server.locator('#log', { hasText: 'tick 5 <b>bold</b>' }).waitFor({ timeout: 30_000 });
      expect(await marked(server)).toBe(true);
      expect(await server.locator('#log b').count()).toBe(0);
      await server.locator('#server-facts td.state', { hasText: 'succeeded' }).first().waitFor({ timeout: 30_000 });
      expect(await server.locator('#server-facts').innerText()).toMatch(/tick <slowly>\s+succeeded\s+\d\d:\d\d:\d\d UTC\s+\d+\.\d s/);
      expect(await marked(server)).toBe(true);
      const log = (await server.locator('#log').innerText()).split('\n').filter((l) => l.startsWith('tick '));
      // Each line once: the stream went on from where the page's tail ended.
      expect(log).toEqual([1, 2, 3, 4, 5, 6].map((i) => `tick ${i} <b>bold</b>`));

      // The rollout pauses at its gate: the deployment page loads itself again to offer what can be done now.
      await page.locator('.paused').waitFor({ timeout: 60_000 });
      expect(await page.locator('.paused').textContent()).toMatch(/^Paused after batch 1\/2 since .* UTC, until someone continues it\.$/);
      expect(await page.locator('#live .gate.held').textContent()).toContain('Gate: waits for someone to continue · held now');
      await page.getByRole('link', { name: 'Sign in to continue or cancel' }).click();
      await page.locator('#token').fill(world.hub.adminToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${world.hub.url}/deployments/${deployment.id}`);
      await page.getByRole('button', { name: 'Continue rollout' }).click();
      await page.waitForURL(/\?done=continued$/);
      expect(await page.locator('.flash').textContent()).toContain('Rollout continued');
      await mark(page);

      // The second batch runs and the rollout ends, all seen live.
      await page.locator('#live pre', { hasText: 'tick 1 <b>bold</b>' }).waitFor({ timeout: 60_000 });
      expect(await marked(page)).toBe(true);
      await page.locator('td.state', { hasText: /^success$/ }).waitFor({ timeout: 60_000 });
      expect(await page.locator('h3 .state').allTextContents()).toEqual(['succeeded', 'succeeded']);
      expect(await page.getByRole('button', { name: 'Continue rollout' }).count()).toBe(0);
      await page.screenshot({ path: '/tmp/bitenvoy-deployment-live.png', fullPage: true });
    },
    E2E_TIMEOUT,
  );

  it(
    'shows, without a reload and within one heartbeat, that the agent of a running server went silent',
    async () => {
      const files = sampleAppFiles('long step');
      files['bitenvoy.yml'] = `version: 1
steps:
  - name: a long step
    run: sleep 90
    timeout: 3m
`;
      await pushCommit(world.appRepo, files, 'a release with a long step');
      const { deployment } = await world.deploy();
      const page = await openPage(`/deployments/${deployment.id}`);
      await mark(page);
      await page.locator('h3 .state', { hasText: /^running$/ }).waitFor({ timeout: 60_000 });
      // web-1 (the canary) runs its step; its agent dies without a word, as a machine that loses power does.
      await world.agents[0]!.process.kill();
      const killedAt = Date.now();
      // The agent renews its lease every third of it (20 s by default); the page says so after the first it misses.
      await page.locator('.unseen', { hasText: /agent not heard from since \d\d:\d\d:\d\d UTC; the job fails at/ }).waitFor({ timeout: HEARTBEAT_MS });
      expect(Date.now() - killedAt).toBeLessThan(HEARTBEAT_MS);
      expect(await marked(page)).toBe(true);
    },
    E2E_TIMEOUT,
  );
});
