/**
 * The environments pages in a real browser (Debian's Chromium through playwright-core) against real processes: a hub
 * on a SQLite file, two enrolled agents, git over HTTP. After a deployment succeeds, a person opens `/`, searches
 * with the form (no script involved), follows the environment to its page and sees the live commit on both servers
 * — its title and author as the hub read them over git, markup in the message shown as text —, the history, the
 * deployment's page and the Deploy link; the skip link comes first by keyboard, and on a phone's width the page does not
 * scroll sideways (tables do, inside themselves).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openFresh } from '../../testbed/chromium.js';
import { pushCommit } from '../../testbed/git-repos.js';
import { sampleAppFiles } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';

const E2E_TIMEOUT = 120_000;

describe('the environments pages in a real browser', () => {
  let world: World;
  let browser: Browser;

  beforeAll(async () => {
    world = await startWorld({ agents: 2 });
    browser = await launchChromium("the dashboard's real-browser test");
  }, 10 * 60_000);
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  async function open(path: string, width = 1200): Promise<Page> {
    return (await openFresh(browser, `${world.hub.url}${path}`, { viewport: { width, height: 900 }, javaScriptEnabled: false })).page;
  }

  it(
    'opens /, filters with the search form, follows to the environment page and sees what each server runs',
    async () => {
      // A commit whose message carries markup: shown as text wherever its title is.
      await pushCommit(world.appRepo, sampleAppFiles('2'), '<b>x</b> raise the cart limit\n\nThe body is not shown.');
      const { deployment } = await world.deploy();
      const done = await world.waitForDeployment(deployment.id);
      expect(done.deployment.state).toBe('success');

      const page = await open('/');
      expect(await page.locator('h1').textContent()).toBe('Environments');
      expect(await page.locator('nav a[aria-current=page]').textContent()).toBe('Environments');
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');

      await page.getByLabel('Search').fill('no-such-environment');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/q=no-such-environment/);
      expect(await page.locator('main').innerText()).toContain('No environment matches “no-such-environment”');

      await page.getByLabel('Search').fill('stag');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/q=stag/);
      const row = page.locator('tr', { has: page.getByRole('link', { name: /^demo\/shop\s+(→\s+)?staging$/ }) });
      expect(await row.innerText()).toContain(deployment.sha.slice(0, 7));
      expect(await row.innerText()).toContain('all 2 on it');
      expect(await row.locator('.commit-title').innerText()).toBe('<b>x</b> raise the cart limit');
      expect(await row.innerText()).toContain('by BitEnvoy Testbed');
      expect(await row.locator('b').count()).toBe(0);

      await page.getByRole('link', { name: /^demo\/shop\s+(→\s+)?staging$/ }).click();
      await page.waitForURL(/\/environments\/demo\/shop\/staging$/);
      expect(await page.locator('h1').innerText()).toBe('demo/shop → staging');
      expect(await page.getByRole('link', { name: 'Deploy…' }).getAttribute('href')).toBe('/environments/demo/shop/staging/deploy');
      const servers = page.locator('#servers + p + table');
      expect(await servers.locator('td.state.succeeded').count()).toBe(2);
      expect(await page.locator('#history + table').innerText()).toContain(deployment.id);
      expect(await page.locator('#history + table').innerText()).toContain('<b>x</b> raise the cart limit by BitEnvoy Testbed');

      // The deployment's page and the deployments list say it too.
      const own = await open(`/deployments/${deployment.id}`);
      expect(await own.locator('.facts').innerText()).toContain('<b>x</b> raise the cart limit by BitEnvoy Testbed');
      const list = await open('/deployments');
      expect(await list.locator('tr', { hasText: deployment.id }).innerText()).toContain('<b>x</b> raise the cart limit');
      expect(await list.locator('main b').count()).toBe(0);

      // A phone's width: the page itself does not scroll sideways.
      const phone = await open('/environments/demo/shop/staging', 360);
      expect(await phone.evaluate('document.documentElement.scrollWidth <= document.documentElement.clientWidth')).toBe(true);
    },
    E2E_TIMEOUT,
  );
});
