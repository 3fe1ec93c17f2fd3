/**
 * The status page's buttons in a real browser (Debian's Chromium through playwright-core) against real processes: a
 * hub on a SQLite file, two enrolled agents, git over HTTP. A person opens a paused canary rollout, signs in with the
 * admin token through the form, continues it and watches it succeed (audited as `admin`); a named operator signs in
 * with the one-time link `bitenvoy hub user create` printed and is audited by name; another cancels a rollout whose
 * step sleeps.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../app/audit/audit-log.js';
import { ADMIN_API_PREFIX } from '../../lib/protocol.js';
import { launchChromium, openFresh } from '../../testbed/chromium.js';
import { pushCommit } from '../../testbed/git-repos.js';
import { runCli } from '../../testbed/processes.js';
import { sampleAppFiles } from '../../testbed/sample-app.js';
import { startWorld, type DeploymentView, type World } from '../../testbed/world.js';

const E2E_TIMEOUT = 120_000;
describe('the status page in a real browser', () => {
  let world: World;
  let browser: Browser;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    // `canary` from the starter config: web-1 first, then a manual gate, then the rest. A 3 s lease makes an agent
    // learn about a cancel within a second.
    world = await startWorld({ agents: 2, strategy: 'canary', hubEnv: { BITENVOY_LEASE_SECONDS: '3' } });
    browser = await launchChromium("the dashboard's real-browser test");
  }, 10 * 60_000);
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  /** A fresh browser profile: no cookie from an earlier test. */
  async function openPage(path: string): Promise<Page> {
    let page: Page;
    ({ context, page } = await openFresh(browser, `${world.hub.url}${path}`));
    return page;
  }

  it(
    'shows a paused canary, signs in through the form, continues it, and the page reaches success',
    async () => {
      const { deployment } = await world.deploy();
      await waitForView(world, deployment.id, (v) => Boolean(v.deployment.gate), 'paused at its manual gate');
      const page = await openPage(`/deployments/${deployment.id}`);

      expect(await bodyText(page)).toContain(`paused after batch 1/2: continue it on its page or with \`bitenvoy continue ${deployment.id}\``);
      expect(await page.locator('.paused').textContent()).toMatch(/^Paused after batch 1\/2 since .* UTC, until someone continues it\.$/);
      expect(await page.getByRole('button', { name: 'Continue rollout' }).count()).toBe(0);

      await page.getByRole('link', { name: 'Sign in to continue or cancel' }).click();
      await page.waitForURL(/\/login\?next=/);
      await page.locator('#token').fill('not-the-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForSelector('.error');
      expect(await page.locator('.error').textContent()).toContain("That is not the hub's admin token.");
      expect(await context!.cookies()).toEqual([]);

      await page.locator('#token').fill(world.hub.adminToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${world.hub.url}/deployments/${deployment.id}`);
      const [cookie, ...others] = await context!.cookies();
      expect(others).toEqual([]);
      expect(cookie).toMatchObject({ name: 'bitenvoy_session', httpOnly: true, sameSite: 'Strict', path: '/', secure: false });
      expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000 + 11 * 3600);
      expect(cookie!.value).not.toContain(world.hub.adminToken);
      expect(page.url()).not.toContain(world.hub.adminToken);
      // HttpOnly: no script on the page can read it.
      expect(await page.evaluate('document.cookie')).toBe('');

      await page.getByRole('button', { name: 'Continue rollout' }).waitFor();
      await page.screenshot({ path: '/tmp/bitenvoy-dashboard-paused.png', fullPage: true });
      await page.getByRole('button', { name: 'Continue rollout' }).click();
      await page.waitForURL(/\?done=continued$/);
      expect(await bodyText(page)).toContain('Rollout continued: the next batch starts now.');

      // The page refreshes itself every 2 s until the rollout is final.
      await waitForPageState(page, 'success');
      expect(await page.locator('h3 .state').allTextContents()).toEqual(['succeeded', 'succeeded']);
      expect(await page.getByRole('button', { name: 'Continue rollout' }).count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Cancel deployment' }).count()).toBe(0);
      await page.screenshot({ path: '/tmp/bitenvoy-dashboard-success.png', fullPage: true });

      const audit = await adminGet<{ entries: AuditEntry[] }>(world, '/audit');
      expect(audit.entries.filter((e) => e.deploymentId === deployment.id && e.action === 'continue')).toEqual([
        expect.objectContaining({ actor: 'admin', outcome: 'continued', environment: 'staging' }),
      ]);
    },
    E2E_TIMEOUT,
  );

  it(
    'a named operator: `bitenvoy hub user create alice` prints a link, alice signs in with it and continues, and the audit says alice',
    async () => {
      const { deployment } = await world.deploy();
      await waitForView(world, deployment.id, (v) => Boolean(v.deployment.gate), 'paused at its manual gate');
      const link = (await runCli(['hub', 'user', 'create', 'alice', '--hub', world.hub.url, '--token', world.hub.adminToken])).trim();
      expect(link).toMatch(new RegExp(`^${world.hub.url}/login/link\\?token=bto_[A-Za-z0-9_-]{43}$`));

      const page = await openPage(link.slice(world.hub.url.length));
      expect(await context!.cookies()).toEqual([]);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${world.hub.url}/`);
      const [cookie, ...others] = await context!.cookies();
      expect(others).toEqual([]);
      expect(cookie).toMatchObject({ name: 'bitenvoy_session', httpOnly: true, sameSite: 'Strict' });

      await page.goto(`${world.hub.url}/deployments/${deployment.id}`);
      expect(await bodyText(page)).toContain('Signed in as alice');
      await page.getByRole('button', { name: 'Continue rollout' }).click();
      await page.waitForURL(/\?done=continued$/);
      await waitForPageState(page, 'success');
      const audit = await adminGet<{ entries: AuditEntry[] }>(world, '/audit');
      expect(audit.entries.filter((e) => e.deploymentId === deployment.id && e.action === 'continue')).toEqual([expect.objectContaining({ actor: 'alice', outcome: 'continued' })]);

      // The link signed in once: opened again, its button is refused.
      const again = await openPage(link.slice(world.hub.url.length));
      await again.getByRole('button', { name: 'Sign in' }).click();
      await again.waitForSelector('.error');
      expect(await again.locator('.error').textContent()).toContain('unknown to this hub, or was used already');
    },
    E2E_TIMEOUT,
  );

  it(
    'a page the person is leaving does not reload itself for the rollout moving on; one left open does',
    async () => {
      const { deployment } = await world.deploy();
      await waitForView(world, deployment.id, (v) => Boolean(v.deployment.gate), 'paused at its manual gate');
      const leaving = await openPage(`/deployments/${deployment.id}`);
      const staying = await leaving.context().newPage();
      await staying.goto(`${world.hub.url}/deployments/${deployment.id}`);
      for (const page of [leaving, staying]) {
        await page.locator('#live-status', { hasText: 'Live:' }).waitFor();
        await page.evaluate('window.loadedBefore = true');
      }
      // What the browser fires when the person follows a link or types an address: their navigation must win.
      await leaving.evaluate("window.dispatchEvent(new Event('beforeunload'))");

      const res = await fetch(`${world.hub.url}${ADMIN_API_PREFIX}/deployments/${deployment.id}/continue`, { method: 'POST', headers: { authorization: `Bearer ${world.hub.adminToken}` } });
      expect(res.status).toBe(200);
      await waitForPageState(staying, 'success');
      expect(await staying.evaluate("'loadedBefore' in window")).toBe(false);
      expect(await leaving.evaluate("'loadedBefore' in window")).toBe(true);
      expect(await leaving.locator('.paused').count()).toBe(1);
    },
    E2E_TIMEOUT,
  );

  it(
    'cancels a running deployment whose step sleeps: a dismissed confirm does nothing, an accepted one ends it cancelled',
    async () => {
      const files = sampleAppFiles('sleepy');
      files['bitenvoy.yml'] = `version: 1
steps:
  - name: warm-up
    run: |
      echo "warming up for a minute"
      sleep 60
    timeout: 2m
`;
      await pushCommit(world.appRepo, files, 'a release whose step sleeps');
      const { deployment } = await world.deploy();
      await world.waitForRunningJob(deployment.id, 0);
      const page = await openPage(`/deployments/${deployment.id}`);
      await page.getByRole('link', { name: 'Sign in to continue or cancel' }).click();
      await page.locator('#token').fill(world.hub.adminToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${world.hub.url}/deployments/${deployment.id}`);
      expect(await page.getByRole('button', { name: 'Continue rollout' }).count()).toBe(0);

      const cancel = page.getByRole('button', { name: 'Cancel deployment' });
      page.once('dialog', (dialog) => void dialog.dismiss());
      await cancel.click();
      // Long enough for a post the dismissal failed to stop to have reached the hub.
      await new Promise((r) => setTimeout(r, 500));
      expect((await world.viewDeployment(deployment.id))?.deployment).not.toHaveProperty('cancelRequested');

      page.once('dialog', (dialog) => void dialog.accept());
      await cancel.click();
      await page.waitForURL(/\?done=cancelled$/);
      await waitForPageState(page, 'cancelled');
      expect(await bodyText(page)).toMatch(/asked by admin/);
      expect(await page.locator('h3 .state').first().textContent()).toBe('cancelled');
      await page.screenshot({ path: '/tmp/bitenvoy-dashboard-cancelled.png', fullPage: true });

      const view = await world.waitForDeployment(deployment.id, 30_000);
      expect(view.deployment).toMatchObject({ state: 'cancelled', cancelRequested: { by: 'admin' } });
      const audit = await adminGet<{ entries: AuditEntry[] }>(world, '/audit');
      expect(audit.entries.filter((e) => e.deploymentId === deployment.id && e.action === 'cancel')).toEqual([expect.objectContaining({ actor: 'admin' })]);
    },
    E2E_TIMEOUT,
  );
});

async function adminGet<T>(world: World, path: string): Promise<T> {
  const res = await fetch(`${world.hub.url}${ADMIN_API_PREFIX}${path}`, { headers: { authorization: `Bearer ${world.hub.adminToken}` } });
  if (!res.ok) throw new Error(`GET ${path} → ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

async function waitForView(world: World, id: string, done: (view: DeploymentView) => boolean, what: string, timeoutMs = 60_000): Promise<DeploymentView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await world.viewDeployment(id);
    if (view && done(view)) return view;
    if (Date.now() > deadline) throw new Error(`deployment ${id} was not ${what} after ${timeoutMs} ms: ${JSON.stringify(view?.deployment)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The page's text; retried while a self-refresh replaces the document under it. */
async function bodyText(page: Page): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await page.locator('body').innerText();
    } catch (err) {
      if (attempt >= 5) throw err;
      await page.waitForLoadState();
    }
  }
}

/** Waits, letting the page refresh itself, until the deployment's state cell says `state`. */
async function waitForPageState(page: Page, state: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen: string | null = null;
  while (Date.now() < deadline) {
    seen = await page
      .locator('td.state')
      .first()
      .textContent({ timeout: 1000 })
      .catch(() => null);
    if (seen === state) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the page still says ${JSON.stringify(seen)} after ${timeoutMs} ms, not ${state}:\n${await bodyText(page)}`);
}
