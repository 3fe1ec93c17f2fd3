/**
 * The agents and config pages in a real browser (Debian's Chromium through playwright-core, no script) against real
 * processes: a hub on a SQLite file, two enrolled agents running, git over HTTP. After a deployment succeeds, a person
 * opens `/agents` from the nav bar, sees both agents online with their labels, narrows to lost ones with the form
 * (none), follows an agent to its page — what it runs for demo/shop and that it is in group `web` — then opens
 * `/config` and sees the commit in force and group `web` resolved to both agents, linked to the filtered list.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openFresh } from '../../testbed/chromium.js';
import { startWorld, type World } from '../../testbed/world.js';

const E2E_TIMEOUT = 120_000;

describe('the agents and config pages in a real browser', () => {
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

  async function open(path: string): Promise<Page> {
    return (await openFresh(browser, `${world.hub.url}${path}`, { javaScriptEnabled: false })).page;
  }

  it(
    'opens /agents, filters by state, follows an agent to its page, then /config with each group resolved',
    async () => {
      const { deployment } = await world.deploy();
      expect((await world.waitForDeployment(deployment.id)).deployment.state).toBe('success');

      const page = await open('/');
      await page.getByRole('link', { name: 'Agents' }).click();
      await page.waitForURL(/\/agents$/);
      expect(await page.locator('h1').textContent()).toBe('Agents');
      expect(await page.locator('nav a[aria-current=page]').textContent()).toBe('Agents');
      const row = page.locator('tr', { has: page.getByRole('link', { name: 'web-1', exact: true }) });
      expect(await row.innerText()).toMatch(/web-1\s+online/);
      expect(await row.innerText()).toContain('role=web');

      await page.getByLabel('State').selectOption('lost');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/state=lost/);
      expect(await page.locator('main').innerText()).toContain('No agent is lost');

      await page.getByRole('link', { name: 'all agents' }).click();
      await page.getByRole('link', { name: 'web-2', exact: true }).click();
      await page.waitForURL(/\/agents\/web-2$/);
      expect(await page.locator('h1').innerText()).toBe('Agent web-2');
      const runs = await page.locator('#applications + p + table').innerText();
      expect(runs).toContain('demo/shop');
      expect(runs).toContain(deployment.sha.slice(0, 7));
      expect(runs).toContain(deployment.id);
      expect(await page.locator('#groups + p + table').innerText()).toMatch(/web\s+role=web\s+in the group/);

      const config = await open('/config');
      expect(await config.locator('h1').textContent()).toBe('Config');
      expect(await config.locator('main').innerText()).toMatch(/Commit in force\s+[0-9a-f]{40}/);
      const web = config.locator('tr', { has: config.getByRole('rowheader', { name: 'web' }) });
      expect(await web.innerText()).toMatch(/^web\b[^]*\srole=web\s+2\s+web-1, web-2$/);
      await web.getByRole('link', { name: '2', exact: true }).click();
      await config.waitForURL(/\/agents\?group=web$/);
      expect(await config.locator('h1').innerText()).toBe('Agents in group web');
      expect(await config.locator('tbody tr, table tr').count()).toBe(3);
    },
    E2E_TIMEOUT,
  );
});
