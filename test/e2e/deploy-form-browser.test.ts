/**
 * The deploy page in a real browser (Debian's Chromium through playwright-core) against real processes in local mode:
 * a hub on a SQLite file, two agents, the application served over git HTTP. A person opens the deploy page, signs in,
 * picks the newest commit (whose message carries markup, shown as text), sees the plan, confirms and lands on the
 * deployment page, which reaches success; rolls back to the earlier success the same way; then locks the
 * environment with a reason, and the plan of the next deploy is refused naming the lock.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../app/audit/audit-log.js';
import { ADMIN_API_PREFIX } from '../../lib/protocol.js';
import { launchChromium, openFresh } from '../../testbed/chromium.js';
import { pushCommit } from '../../testbed/git-repos.js';
import { SAMPLE_REPOSITORY } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';

const E2E_TIMEOUT = 180_000;
const MARKUP = 'release 2 <img src=x onerror="window.owned=1">';

describe('the deploy page in a real browser', () => {
  let world: World;
  let browser: Browser;

  beforeAll(async () => {
    world = await startWorld({ agents: 2 });
    browser = await launchChromium("the deploy page's real-browser test");
  }, 10 * 60_000);
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  it(
    'picks a commit, shows the plan, deploys it, rolls back, then a lock with a reason refuses the next deploy naming it',
    async () => {
      // Something succeeded on staging before: what the rollback goes back to.
      const { deployment: first } = await world.deploy();
      await world.waitForDeployment(first.id);
      const sha = await pushCommit(world.appRepo, { 'VERSION': '2\n' }, MARKUP);
      const short = sha.slice(0, 7);
      const deployPage = `${world.hub.url}/environments/${SAMPLE_REPOSITORY}/staging/deploy`;

      const opened = await openFresh(browser);
      const context = opened.context;
      let page = opened.page;
      // A deployment page reloads itself once its deployment ends (its buttons change): the next step opens a new tab
      // of the same sign-in, so that reload cannot interrupt the navigation.
      const newTab = async (url: string) => {
        page = await context.newPage();
        await page.goto(url);
      };
      await page.goto(deployPage);
      await page.getByRole('link', { name: 'Sign in to deploy, roll back or lock' }).click();
      await page.locator('#token').fill(world.hub.adminToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(deployPage);

      // The commit message is text: no image element, no script ran.
      const row = page.locator('tr', { has: page.locator(`code:text-is("${short}")`) });
      expect(await row.locator('td').nth(1).textContent()).toBe(MARKUP);
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.evaluate('window.owned')).toBeUndefined();
      expect(await bodyText(page)).toContain('No checks in local mode');

      await page.getByRole('button', { name: `Review plan for ${short}` }).first().click();
      await page.waitForURL(new RegExp(`\\?sha=${sha}$`));
      const plan = await page.locator('section.plan').innerText();
      expect(plan).toContain(`Plan: deploy ${short} to staging`);
      expect(plan).toMatch(/Group web, strategy all-at-once: 2 servers today\./);
      expect(plan).toMatch(/1\/1\s+web-1, web-2\s+done/);
      expect(plan).toContain('Nothing blocks it.');
      await page.screenshot({ path: '/tmp/bitenvoy-deploy-plan.png', fullPage: true });

      await page.getByRole('button', { name: `Deploy ${short} to staging` }).click();
      await page.waitForURL(/\/deployments\/dep_[\w-]+$/);
      const deployedId = /\/deployments\/(dep_[\w-]+)$/.exec(page.url())![1]!;
      const deployed = await world.waitForDeployment(deployedId);
      expect(deployed.deployment).toMatchObject({ sha, state: 'success', createdBy: 'admin' });

      // Roll back to the first success: its plan first, then the button.
      await newTab(deployPage);
      await page.getByRole('button', { name: `Review rollback for ${first.sha.slice(0, 7)}` }).click();
      expect(await page.locator('section.plan').innerText()).toContain(`Plan: roll staging back to ${first.sha.slice(0, 7)}`);
      await page.getByRole('button', { name: `Roll back to ${first.sha.slice(0, 7)}` }).click();
      await page.waitForURL(/\/deployments\/dep_[\w-]+$/);
      const rollbackId = /\/deployments\/(dep_[\w-]+)$/.exec(page.url())![1]!;
      const rolledBack = await world.waitForDeployment(rollbackId);
      expect(rolledBack.deployment).toMatchObject({ sha: first.sha, state: 'success', rollbackOf: deployedId, trigger: 'rollback' });

      // Lock with a reason (markup in it stays text); the next deploy's plan is refused naming the lock.
      await newTab(deployPage);
      await page.getByLabel('Reason').fill('db migration <b>now</b>');
      await page.getByRole('button', { name: 'Lock staging' }).click();
      await page.waitForURL(/\?done=locked$/);
      expect(await page.locator('.lock').innerText()).toMatch(/^`staging` is locked by @admin since .* UTC: db migration <b>now<\/b>\.$/);
      await page.getByRole('button', { name: `Review plan for ${short}` }).first().click();
      const refused = await page.locator('section.plan [role=alert]').innerText();
      expect(refused).toContain('Blocked:');
      expect(refused).toMatch(/`staging` is locked by @admin since .* UTC: db migration <b>now<\/b>/);
      expect(await page.getByRole('button', { name: `Deploy ${short} to staging` }).count()).toBe(0);
      await page.screenshot({ path: '/tmp/bitenvoy-deploy-locked.png', fullPage: true });
      await context.close();

      const audit = await adminGet<{ entries: AuditEntry[] }>(world, '/audit');
      const mine = audit.entries.filter((e) => e.actor === 'admin').map((e) => `${e.action} ${e.outcome}`);
      expect(mine).toEqual(expect.arrayContaining(['deploy started', 'rollback started', 'lock locked']));
    },
    E2E_TIMEOUT,
  );
});

async function adminGet<T>(world: World, path: string): Promise<T> {
  const res = await fetch(`${world.hub.url}${ADMIN_API_PREFIX}${path}`, { headers: { authorization: `Bearer ${world.hub.adminToken}` } });
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}`);
  return (await res.json()) as T;
}

async function bodyText(page: Page): Promise<string> {
  return page.locator('body').innerText();
}
