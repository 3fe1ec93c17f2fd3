/**
 * Sign in with GitHub in a real browser (Debian's Chromium through playwright-core) against real processes: a hub in
 * GitHub mode (its pages private, the default there) talking to the GitHub stand-in as GitHub Enterprise Server —
 * its OAuth pages, `POST /login/oauth/access_token`, `GET /user` and each person's permission on the repository —
 * two enrolled agents and git over HTTP. A reader signs in, sees the paused rollout but no buttons, and a post forged
 * from the page is refused with 403 saying why; a writer signs in, continues it, and the audit log names them.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../app/audit/audit-log.js';
import { ADMIN_API_PREFIX } from '../../lib/protocol.js';
import { launchChromium, openFresh } from '../../testbed/chromium.js';
import { SAMPLE_REPOSITORY } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';

const E2E_TIMEOUT = 120_000;

describe('Sign in with GitHub in a real browser', () => {
  let world: World;
  let browser: Browser;
  let context: BrowserContext | undefined;
  let deploymentId: string;

  beforeAll(async () => {
    // `canary`: web-1 first, then a manual gate. A GitHub deployment (made through the stand-in) like any other.
    world = await startWorld({ agents: 2, strategy: 'canary', github: { requiredChecks: ['test'] } });
    world.github!.setPermission(SAMPLE_REPOSITORY, 'rita', 'read');
    world.github!.setPermission(SAMPLE_REPOSITORY, 'wendy', 'write');
    browser = await launchChromium("the dashboard's real-browser test");
    const { deployment } = await world.deploy();
    deploymentId = deployment.id;
    const deadline = Date.now() + 60_000;
    while (!(await world.viewDeployment(deploymentId))?.deployment.gate) {
      if (Date.now() > deadline) throw new Error(`deployment ${deploymentId} never paused at its gate`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 10 * 60_000);
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  /** Opens the deployment page in a fresh profile: sent to sign in, then through GitHub as `login`, and back. */
  async function signInThroughGitHub(login: string): Promise<Page> {
    let page: Page;
    ({ context, page } = await openFresh(browser));
    await page.goto(`${world.hub.url}/deployments/${deploymentId}`);
    // Private pages (GitHub mode's default): the sign-in page, which offers GitHub first.
    await page.waitForURL(/\/login\?next=/);
    expect(await page.locator('body').innerText()).not.toContain(SAMPLE_REPOSITORY);
    await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
    await page.waitForURL(`${world.github!.url}/login/oauth/authorize?**`);
    await page.locator('#login').fill(login);
    await page.getByRole('button', { name: 'Authorize' }).click();
    // The callback's "Signed in" page moves on by itself to where the person was going.
    await page.waitForURL(`${world.hub.url}/deployments/${deploymentId}`);
    await page.locator('.who').waitFor();
    return page;
  }

  it(
    'a reader sees the paused rollout but gets no buttons, and a forged post is refused with 403 naming why',
    async () => {
      const page = await signInThroughGitHub('rita');
      const text = await page.locator('body').innerText();
      expect(text).toContain(`${SAMPLE_REPOSITORY} → staging`);
      expect(text).toContain('Signed in as rita');
      expect(text).toContain(`You can view this deployment but not continue or cancel it: sorry @rita, only people with write, maintain or admin permission on ${SAMPLE_REPOSITORY} can do that (you have read).`);
      expect(await page.getByRole('button', { name: 'Continue rollout' }).count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Cancel deployment' }).count()).toBe(0);

      const cookies = await context!.cookies();
      expect(cookies.map((c) => c.name)).toEqual(['bitenvoy_session']);
      expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
      expect(cookies[0]!.value).not.toMatch(/^ghu_/);
      expect(await page.evaluate('document.cookie')).toBe('');

      // A form of the reader's own making, posted from the hub's page with the session's CSRF token (from Sign out).
      const csrf = await page.locator('input[name=csrf]').first().inputValue();
      const status = await page.evaluate(
        async ([id, token]) => {
          const res = await fetch(`/deployments/${id}/continue`, { method: 'POST', body: new URLSearchParams({ csrf: token! }), redirect: 'manual' });
          return { status: res.status, text: await res.text() };
        },
        [deploymentId, csrf],
      );
      expect(status.status).toBe(403);
      expect(status.text).toContain(`Refused: sorry @rita, only people with write, maintain or admin permission on ${SAMPLE_REPOSITORY} can do that (you have read).`);
      expect((await world.viewDeployment(deploymentId))?.deployment.gate).toBeTruthy();
    },
    E2E_TIMEOUT,
  );

  it(
    'a writer signs in, continues the paused rollout, and the audit log records their login',
    async () => {
      const page = await signInThroughGitHub('wendy');
      expect(await page.locator('body').innerText()).toContain('Signed in as wendy');
      await page.getByRole('button', { name: 'Continue rollout' }).click();
      await page.waitForURL(/\?done=continued$/);
      const view = await world.waitForDeployment(deploymentId);
      expect(view.deployment.state).toBe('success');
      const res = await fetch(`${world.hub.url}${ADMIN_API_PREFIX}/audit`, { headers: { authorization: `Bearer ${world.hub.adminToken}` } });
      const { entries } = (await res.json()) as { entries: AuditEntry[] };
      expect(entries.filter((e) => e.deploymentId === deploymentId && e.action === 'continue')).toEqual([expect.objectContaining({ actor: 'wendy', outcome: 'continued' })]);
      expect(world.github!.signIns).toEqual(['rita', 'wendy']);
      expect(world.github!.problems()).toEqual([]);
    },
    E2E_TIMEOUT,
  );
});
