/**
 * Sign-in and the deployment page's buttons over real HTTP on loopback, on the real engine and store with a fake
 * clock: the session cookie, the cross-site checks (Origin, CSRF token), continue and cancel with their audit
 * entries, and every way a session ends.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listAudit } from '../../app/audit/audit-log.js';
import { keys, type DeploymentRecord } from '../../app/model.js';
import { DashboardSessions, SESSION_TTL_MS } from '../../app/pages/dashboard-sessions.js';
import { deploymentActionRoutes } from '../../app/pages/deployment-action-routes.js';
import { deploymentPageRoutes } from '../../app/pages/deployment-page-routes.js';
import { signInRoutes } from '../../app/pages/sign-in-routes.js';
import { takeLock } from '../../app/rollout/environment-locks.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { createKoa } from '../../app/server.js';
import { silentLogger } from '../../lib/logger.js';
import { DEPLOY, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';
import { serveRoutes } from '../helpers/serve-routes.js';
import type { DeployThroughGitHub } from '../../app/api/roll-back-environment.js';

const ADMIN_TOKEN = 'bt_admin_dashboard-test-token-0123456789';

interface Pages {
  base: string;
  close(): Promise<void>;
}

let f: EngineFixture;
let engine: RolloutEngine;
let pages: Pages;
const extra: Pages[] = [];

/** The hub's page routers on their own server; `publicUrl` defaults to the server's own address. */
async function startPages(adminToken = ADMIN_TOKEN, publicUrl?: string, deployThroughGitHub?: DeployThroughGitHub): Promise<Pages> {
  let base = '';
  const sessions = new DashboardSessions({ store: f.store, adminToken, publicUrl: () => publicUrl ?? base, now: () => f.now });
  const served = await serveRoutes(
    [deploymentPageRoutes({ store: f.store, engine, configStatus: () => [], sessions }), signInRoutes(sessions, adminToken), deploymentActionRoutes({ store: f.store, engine, sessions, ...(deployThroughGitHub ? { deployThroughGitHub } : {}) })],
    { koa: createKoa(silentLogger()) },
  );
  base = served.base;
  return served;
}

beforeEach(async () => {
  f = await openEngineFixture();
  f.strategies = { bird: { type: 'canary', canary: { size: 1, pause: 'manual' } } };
  f.strategy = 'bird';
  engine = f.engine();
  await f.addAgent('ag_a', 'web-1');
  await f.addAgent('ag_b', 'web-2');
  pages = await startPages();
});
afterEach(async () => {
  for (const p of extra.splice(0)) await p.close();
  await pages.close();
  await f.close();
});

interface Answer {
  status: number;
  html: string;
  location: string | null;
  cookies: string[];
  headers: Headers;
}

async function request(path: string, options: { method?: string; form?: Record<string, string>; cookie?: string; origin?: string | null; referer?: string; at?: Pages; body?: string; type?: string } = {}): Promise<Answer> {
  const at = options.at ?? pages;
  const headers: Record<string, string> = {};
  if (options.cookie) headers.cookie = options.cookie;
  // A browser sends its page's origin with every form post; `null` here means "send none".
  if (options.origin !== null && (options.method ?? 'GET') === 'POST') headers.origin = options.origin ?? at.base;
  if (options.referer) headers.referer = options.referer;
  let body = options.body;
  if (options.form) body = new URLSearchParams(options.form).toString();
  if (body !== undefined) headers['content-type'] = options.type ?? 'application/x-www-form-urlencoded';
  const res = await fetch(`${at.base}${path}`, { method: options.method ?? 'GET', headers, body, redirect: 'manual' });
  return { status: res.status, html: await res.text(), location: res.headers.get('location'), cookies: res.headers.getSetCookie(), headers: res.headers };
}

/** Signs in through the form; returns the cookie to send back and the CSRF token the deployment page carries. */
async function signIn(at: Pages = pages): Promise<{ cookie: string; setCookie: string }> {
  const res = await request('/login', { method: 'POST', form: { token: ADMIN_TOKEN, next: '/' }, at });
  expect(res.status).toBe(303);
  const setCookie = res.cookies[0]!;
  return { cookie: setCookie.split(';')[0]!, setCookie };
}

async function csrfOf(id: string, cookie: string, at: Pages = pages): Promise<string> {
  const { html } = await request(`/deployments/${id}`, { cookie, at });
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error(`the signed-in page carries no CSRF token:\n${html}`);
  return token;
}

async function pausedDeployment(): Promise<DeploymentRecord> {
  const dep = await engine.createDeployment(DEPLOY, 'test');
  await f.agentRuns(engine, 'ag_a');
  const paused = await record(dep.id);
  expect(paused.gate).toMatchObject({ afterBatch: 0, manual: true });
  return paused;
}
const record = async (id: string) => (await f.store.get<DeploymentRecord>(keys.deployment(id)))!;

describe('signing in', () => {
  it('shows a form that posts the token in the body, never in a URL', async () => {
    const { status, html, headers } = await request('/login?next=/deployments/dep_1');
    expect(status).toBe(200);
    expect(html).toContain('<form method="post" action="/login">');
    expect(html).toContain('name="token" type="password"');
    expect(html).toContain('<input type="hidden" name="next" value="/deployments/dep_1">');
    expect(headers.get('cache-control')).toBe('no-store');
    expect(headers.get('x-frame-options')).toBe('DENY');
    // A token in the query is not read: nothing signs in that way.
    const viaQuery = await request(`/login?token=${ADMIN_TOKEN}`);
    expect(viaQuery.cookies).toEqual([]);
    expect(viaQuery.html).not.toContain(ADMIN_TOKEN);
  });

  it('sets an HttpOnly, SameSite=Strict, expiring session cookie that does not contain the token, and goes back to the page', async () => {
    const res = await request('/login', { method: 'POST', form: { token: ADMIN_TOKEN, next: '/deployments/dep_1' } });
    expect(res.status).toBe(303);
    expect(res.location).toBe('/deployments/dep_1');
    expect(res.cookies).toHaveLength(1);
    const cookie = res.cookies[0]!;
    expect(cookie).toMatch(/^bitenvoy_session=[A-Za-z0-9_-]{43}; /);
    expect(cookie).toContain('; Path=/');
    expect(cookie).toContain('; HttpOnly');
    expect(cookie).toContain('; SameSite=Strict');
    expect(cookie).toContain(`; Max-Age=${SESSION_TTL_MS / 1000}`);
    expect(cookie).toMatch(/; Expires=\w{3}, \d\d \w{3} \d{4} /);
    expect(cookie).not.toContain('Secure');
    expect(cookie).not.toContain(ADMIN_TOKEN);
    // The store keeps neither the cookie's value nor the token.
    const id = /=([^;]+)/.exec(cookie)![1]!;
    const stored = JSON.stringify(await f.store.list('dashboard-session:'));
    expect(stored).toContain('csrfToken');
    expect(stored).not.toContain(id);
    expect(stored).not.toContain(ADMIN_TOKEN);
  });

  it('makes the cookie Secure when the hub is reached over https', async () => {
    const https = await startPages(ADMIN_TOKEN, 'https://hub.example.com');
    extra.push(https);
    const res = await request('/login', { method: 'POST', form: { token: ADMIN_TOKEN }, origin: 'https://hub.example.com', at: https });
    expect(res.status).toBe(303);
    expect(res.cookies[0]).toMatch(/; Secure$/);
  });

  it('answers a wrong or empty token with the form again and a clear error (401), setting nothing', async () => {
    const wrong = await request('/login', { method: 'POST', form: { token: 'guess', next: '/deployments/dep_1' } });
    expect(wrong.status).toBe(401);
    expect(wrong.cookies).toEqual([]);
    expect(wrong.html).toContain("That is not the hub&#39;s admin token. Paste the value of BITENVOY_ADMIN_TOKEN");
    expect(wrong.html).toContain('<form method="post" action="/login">');
    expect(wrong.html).toContain('value="/deployments/dep_1"');
    expect(wrong.html).not.toContain('guess');
    const empty = await request('/login', { method: 'POST', form: { token: '' } });
    expect(empty.status).toBe(401);
    expect(empty.html).toContain('Enter the admin token');
    expect(await f.store.list('dashboard-session:')).toEqual([]);
  });

  it('sends people only to paths on this hub after signing in', async () => {
    for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
      const res = await request('/login', { method: 'POST', form: { token: ADMIN_TOKEN, next } });
      expect(res.location, next).toBe('/');
    }
  });

  it('refuses a sign-in posted from another site (403) and a body that is not a small form', async () => {
    const foreign = await request('/login', { method: 'POST', form: { token: ADMIN_TOKEN }, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.cookies).toEqual([]);
    expect(foreign.html).toContain('Refused: this form post comes from https://evil.example, not from the hub&#39;s own pages at');
    const json = await request('/login', { method: 'POST', body: JSON.stringify({ token: ADMIN_TOKEN }), type: 'application/json' });
    expect(json.status).toBe(400);
    expect(json.html).toContain('Expected a form post with `content-type: application/x-www-form-urlencoded`');
    const huge = await request('/login', { method: 'POST', form: { token: 'x'.repeat(10_000) } });
    expect(huge.status).toBe(413);
  });
});

describe('the deployment page', () => {
  it('shows a paused rollout and, without a session, a sign-in link instead of buttons', async () => {
    const dep = await pausedDeployment();
    const { html } = await request(`/deployments/${dep.id}`);
    expect(html).toContain(`paused after batch 1/2: continue it on its page or with \`bitenvoy continue ${dep.id}\``);
    expect(html).toContain('<strong>Paused</strong> after batch 1/2 since 2026-11-25 10:00:00 UTC, until someone continues it.');
    expect(html).toContain(`<a href="/login?next=%2Fdeployments%2F${dep.id}">Sign in to continue or cancel</a>`);
    expect(html).not.toContain('<form');
    expect(html).not.toContain('csrf');
  });

  it('offers Continue at a gate and Cancel while not final, each form with the session’s CSRF token', async () => {
    const dep = await pausedDeployment();
    const { cookie } = await signIn();
    const { html, headers } = await request(`/deployments/${dep.id}`, { cookie });
    expect(html).toContain(`<form method="post" action="/deployments/${dep.id}/continue">`);
    expect(html).toContain('<button type="submit">Continue rollout</button>');
    expect(html).toContain(`<form method="post" action="/deployments/${dep.id}/cancel" onsubmit="return confirm(`);
    expect(html).toContain('Cancel deployment</button>');
    expect(html).toContain('<form method="post" action="/logout">');
    expect(html.match(/name="csrf" value="[A-Za-z0-9_-]{43}"/g)).toHaveLength(3);
    expect(html).not.toContain('Sign in to continue or cancel');
    expect(headers.get('cache-control')).toBe('no-store');
    expect(headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
  });

  it('offers only Cancel while a batch runs, and nothing once the deployment is final', async () => {
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const { cookie } = await signIn();
    const running = await request(`/deployments/${dep.id}`, { cookie });
    expect(running.html).not.toContain('Continue rollout');
    expect(running.html).toContain('Cancel deployment');
    await engine.cancelDeployment(dep.id, 'test');
    const ended = await request(`/deployments/${dep.id}`, { cookie });
    expect((await record(dep.id)).state).toBe('cancelled');
    expect(ended.html).not.toContain('Cancel deployment');
    expect(ended.html).not.toContain('Continue rollout');
    expect((await request(`/deployments/${dep.id}`)).html).not.toContain('Sign in to continue or cancel');
  });
});

describe('POST /deployments/:id/continue and /cancel', () => {
  it('continues a paused rollout as `admin` (signed in with the admin token), records it in the audit log, and goes back with a message', async () => {
    const dep = await pausedDeployment();
    const { cookie } = await signIn();
    const res = await request(`/deployments/${dep.id}/continue`, { method: 'POST', cookie, form: { csrf: await csrfOf(dep.id, cookie) } });
    expect(res.status).toBe(303);
    expect(res.location).toBe(`/deployments/${dep.id}?done=continued`);
    expect(await record(dep.id)).not.toHaveProperty('gate');
    expect((await engine.nextJob('ag_b'))?.deploymentId).toBe(dep.id);
    expect(await listAudit(f.store)).toEqual([expect.objectContaining({ actor: 'admin', action: 'continue', outcome: 'continued', deploymentId: dep.id, repository: 'acme/shop', environment: 'staging' })]);
    const after = await request(res.location!, { cookie });
    expect(after.html).toContain('<p class="flash" role="status">Rollout continued: the next batch starts now.</p>');
    // The refresh goes to the page without the message.
    expect(after.html).toContain(`<meta http-equiv="refresh" content="2; url=/deployments/${dep.id}">`);
  });

  it('answers 409 with the API’s sentence when the rollout is not paused', async () => {
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const { cookie } = await signIn();
    const res = await request(`/deployments/${dep.id}/continue`, { method: 'POST', cookie, form: { csrf: await csrfOf(dep.id, cookie) } });
    expect(res.status).toBe(409);
    expect(res.html).toMatch(new RegExp(`Deployment ${dep.id} is not paused \\(it is (queued|in_progress): .*\\); only a rollout waiting between batches can be continued\\.`));
    expect(res.html).toContain(`<a href="/deployments/${dep.id}">Back to the deployment</a>`);
    expect(await listAudit(f.store)).toEqual([]);
  });

  it('cancels as `admin`, records it, and answers 409 once it has ended', async () => {
    const dep = await pausedDeployment();
    const { cookie } = await signIn();
    const csrf = await csrfOf(dep.id, cookie);
    const res = await request(`/deployments/${dep.id}/cancel`, { method: 'POST', cookie, form: { csrf } });
    expect(res.status).toBe(303);
    expect(res.location).toBe(`/deployments/${dep.id}?done=cancelled`);
    expect(await record(dep.id)).toMatchObject({ state: 'cancelled', cancelRequested: { by: 'admin' } });
    expect(await listAudit(f.store)).toEqual([expect.objectContaining({ actor: 'admin', action: 'cancel', outcome: 'cancelled', deploymentId: dep.id })]);
    const again = await request(`/deployments/${dep.id}/cancel`, { method: 'POST', cookie, form: { csrf } });
    expect(again.status).toBe(409);
    expect(again.html).toContain('already ended (cancelled');
  });

  it('answers 401 with a sentence and a sign-in link without a session', async () => {
    const dep = await pausedDeployment();
    for (const cookie of [undefined, 'bitenvoy_session=not-a-session', `bitenvoy_session=${'A'.repeat(43)}`]) {
      const res = await request(`/deployments/${dep.id}/continue`, { method: 'POST', ...(cookie ? { cookie } : {}), form: { csrf: 'anything' } });
      expect(res.status).toBe(401);
      expect(res.html).toContain('You are not signed in, or your sign-in ended');
      expect(res.html).toContain(`<a href="/login?next=%2Fdeployments%2F${dep.id}">Sign in</a>`);
    }
    expect((await record(dep.id)).gate).toBeDefined();
  });

  it('refuses a missing or wrong CSRF token (403), leaving the rollout alone', async () => {
    const dep = await pausedDeployment();
    const { cookie } = await signIn();
    const missing = await request(`/deployments/${dep.id}/continue`, { method: 'POST', cookie, form: {} });
    expect(missing.status).toBe(403);
    expect(missing.html).toContain('Refused: the form carries no CSRF token');
    const other = await signIn();
    const wrong = await request(`/deployments/${dep.id}/cancel`, { method: 'POST', cookie, form: { csrf: await csrfOf(dep.id, other.cookie) } });
    expect(wrong.status).toBe(403);
    expect(wrong.html).toContain('Refused: the form&#39;s CSRF token is not this sign-in&#39;s');
    expect(await record(dep.id)).toMatchObject({ state: 'in_progress', gate: { afterBatch: 0 } });
    expect(await listAudit(f.store)).toEqual([]);
  });

  it('refuses a post from another origin, or with neither Origin nor Referer (403); a same-origin Referer is enough', async () => {
    const dep = await pausedDeployment();
    const { cookie } = await signIn();
    const csrf = await csrfOf(dep.id, cookie);
    const foreign = await request(`/deployments/${dep.id}/cancel`, { method: 'POST', cookie, form: { csrf }, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.html).toContain(`Refused: this form post comes from https://evil.example, not from the hub&#39;s own pages at ${pages.base}`);
    const foreignReferer = await request(`/deployments/${dep.id}/cancel`, { method: 'POST', cookie, form: { csrf }, origin: null, referer: 'https://evil.example/page' });
    expect(foreignReferer.status).toBe(403);
    const nullOrigin = await request(`/deployments/${dep.id}/cancel`, { method: 'POST', cookie, form: { csrf }, origin: 'null' });
    expect(nullOrigin.status).toBe(403);
    const neither = await request(`/deployments/${dep.id}/cancel`, { method: 'POST', cookie, form: { csrf }, origin: null });
    expect(neither.status).toBe(403);
    expect(neither.html).toContain('carries neither an Origin nor a Referer header');
    expect((await record(dep.id)).state).toBe('in_progress');
    const viaReferer = await request(`/deployments/${dep.id}/continue`, { method: 'POST', cookie, form: { csrf }, origin: null, referer: `${pages.base}/deployments/${dep.id}` });
    expect(viaReferer.status).toBe(303);
  });
});

describe('how a session ends', () => {
  it('signing out ends the session on the hub, not only in the browser', async () => {
    const dep = await pausedDeployment();
    const { cookie } = await signIn();
    const csrf = await csrfOf(dep.id, cookie);
    const out = await request('/logout', { method: 'POST', cookie, form: { csrf } });
    expect(out.status).toBe(303);
    expect(out.location).toBe('/login?done=signed-out');
    expect(out.cookies[0]).toMatch(/^bitenvoy_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0;/);
    expect((await request(out.location!)).html).toContain('You are signed out.');
    // A copy of the old cookie no longer works.
    const res = await request(`/deployments/${dep.id}/continue`, { method: 'POST', cookie, form: { csrf } });
    expect(res.status).toBe(401);
    expect((await request(`/deployments/${dep.id}`, { cookie })).html).toContain('Sign in to continue or cancel');
  });

  it('refuses a sign-out without the CSRF token (so another site cannot sign people out)', async () => {
    const { cookie } = await signIn();
    expect((await request('/logout', { method: 'POST', cookie, form: {} })).status).toBe(403);
    expect(await f.store.list('dashboard-session:')).toHaveLength(1);
  });

  it('refuses a session older than 12 hours', async () => {
    const dep = await pausedDeployment();
    const { cookie } = await signIn();
    const csrf = await csrfOf(dep.id, cookie);
    f.now += SESSION_TTL_MS - 1000;
    expect((await request(`/deployments/${dep.id}`, { cookie })).html).toContain('Continue rollout');
    f.now += 1000;
    const res = await request(`/deployments/${dep.id}/continue`, { method: 'POST', cookie, form: { csrf } });
    expect(res.status).toBe(401);
    expect((await record(dep.id)).gate).toBeDefined();
    expect(await f.store.list('dashboard-session:')).toEqual([]);
  });

  it('refuses every session once the hub runs with another admin token', async () => {
    const dep = await pausedDeployment();
    const { cookie } = await signIn();
    const csrf = await csrfOf(dep.id, cookie);
    const rotated = await startPages('bt_admin_the-new-token');
    extra.push(rotated);
    const res = await request(`/deployments/${dep.id}/continue`, { method: 'POST', cookie, form: { csrf }, at: rotated });
    expect(res.status).toBe(401);
    expect((await request(`/deployments/${dep.id}`, { cookie, at: rotated })).html).toContain('Sign in to continue or cancel');
    // The hub with the old token still knows it: the session itself was not touched.
    expect((await request(`/deployments/${dep.id}`, { cookie })).html).toContain('Continue rollout');
  });
});

describe('POST /deployments/:id/retry', () => {
  /** web-1 fails in the canary batch: the rollout stops there and ends `failure`. */
  async function failedDeployment(): Promise<DeploymentRecord> {
    f.strategy = 'all-at-once';
    const dep = await engine.createDeployment(DEPLOY, 'test');
    await f.agentRuns(engine, 'ag_a', 'failed', 'step <migrate> exited 1');
    await f.agentRuns(engine, 'ag_b');
    const ended = await record(dep.id);
    expect(ended.state).toBe('failure');
    return ended;
  }

  it('deploys the same commit again to only the failed servers, audited as the person, and shows the new deployment', async () => {
    const dep = await failedDeployment();
    expect((await request(`/deployments/${dep.id}`)).html).toContain('Sign in to retry the failed servers');
    const { cookie } = await signIn();
    const page = await request(`/deployments/${dep.id}`, { cookie });
    expect(page.html).toContain('<button type="submit">Retry the 1 failed server</button>');
    const csrf = await csrfOf(dep.id, cookie);
    // The same guards as the other buttons: no token, no retry.
    expect((await request(`/deployments/${dep.id}/retry`, { method: 'POST', cookie, form: {} })).status).toBe(403);

    const res = await request(`/deployments/${dep.id}/retry`, { method: 'POST', cookie, form: { csrf } });
    expect(res.status).toBe(303);
    const retryId = /^\/deployments\/(dep_\w+)\?done=retried$/.exec(res.location ?? '')?.[1];
    expect(retryId).toBeDefined();
    const retry = await record(retryId!);
    expect(retry).toMatchObject({ sha: dep.sha, ref: dep.sha, environment: 'staging', createdBy: 'admin', trigger: 'dashboard' });
    expect(retry.batches.flatMap((b) => b.agentIds)).toEqual(['ag_a']);
    expect((await engine.nextJob('ag_b'))).toBeUndefined();
    expect((await engine.nextJob('ag_a'))?.deploymentId).toBe(retryId);
    expect(await listAudit(f.store)).toEqual([
      expect.objectContaining({ actor: 'admin', action: 'deploy', outcome: 'started', deploymentId: retryId, sha: dep.sha, detail: `retry of ${dep.id} on 1 failed server` }),
    ]);
    const shown = await request(res.location!, { cookie });
    expect(shown.html).toContain('This deployment retries the failed servers of the one before');
  });

  it('refuses, on the page, a retry while the rollout runs, of a deployment without failures, and one a lock holds back', async () => {
    const { cookie } = await signIn();
    const running = await engine.createDeployment({ ...DEPLOY }, 'test');
    const csrfRunning = await csrfOf(running.id, cookie);
    const early = await request(`/deployments/${running.id}/retry`, { method: 'POST', cookie, form: { csrf: csrfRunning } });
    expect(early.status).toBe(409);
    expect(early.html).toContain(`<p class="error">Deployment ${running.id} is still queued: retry its failed servers once it has ended.</p>`);
    await engine.cancelDeployment(running.id, 'test');
    // Cancelled before any server ran: nothing failed, nothing to retry.
    const csrfCancelled = await csrfOf(running.id, cookie);
    expect((await request(`/deployments/${running.id}`, { cookie })).html).not.toContain('Retry the');
    const none = await request(`/deployments/${running.id}/retry`, { method: 'POST', cookie, form: { csrf: csrfCancelled } });
    expect(none.status).toBe(409);
    expect(none.html).toContain(`No server of deployment ${running.id} failed.`);

    const dep = await failedDeployment();
    const csrf = await csrfOf(dep.id, cookie);
    await takeLock(f.store, { repository: 'acme/shop', environment: 'staging', by: 'octocat', reason: 'db <migration>', at: new Date(f.now).toISOString() }, f.now);
    const locked = await request(`/deployments/${dep.id}/retry`, { method: 'POST', cookie, form: { csrf } });
    expect(locked.status).toBe(409);
    expect(locked.html).toContain('is locked by @octocat');
    expect(locked.html).toContain('db &lt;migration&gt;');
    expect(await listAudit(f.store)).toEqual([expect.objectContaining({ actor: 'admin', action: 'deploy', outcome: 'refused' })]);
  });

  it('retries a deployment made through GitHub through GitHub (a repository without `git:`): its failed servers only, audited as queued while GitHub has not taken it', async () => {
    f.strategy = 'all-at-once';
    const github = { installationId: 1, owner: 'acme', repo: 'shop', deploymentId: 7, cloneUrl: 'https://github.test/acme/shop.git' };
    const dep = await engine.createDeployment(DEPLOY, 'test', { github });
    await f.agentRuns(engine, 'ag_a', 'failed', 'exit 1');
    await f.agentRuns(engine, 'ag_b');
    const asked: unknown[] = [];
    const through = await startPages(ADMIN_TOKEN, undefined, (req, actor, options) => {
      asked.push({ req, actor, options });
      return Promise.resolve({ queued: true as const, id: 'dep_0000000000aa', repository: req.repository, environment: req.environment, sha: dep.sha, message: 'GitHub did not take it at once; it is queued' });
    });
    extra.push(through);
    const { cookie } = await signIn(through);
    expect((await request(`/deployments/${dep.id}`, { cookie, at: through })).html).toContain('Retry the 1 failed server');
    const csrf = await csrfOf(dep.id, cookie, through);
    const res = await request(`/deployments/${dep.id}/retry`, { method: 'POST', cookie, form: { csrf }, at: through });
    expect(res.status).toBe(303);
    expect(res.location).toBe('/deployments/dep_0000000000aa?done=retried');
    expect(asked).toEqual([{ req: { repository: DEPLOY.repository, environment: 'staging', ref: dep.sha }, actor: 'admin', options: expect.objectContaining({ onlyAgents: ['ag_a'], trigger: 'dashboard' }) }]);
    expect(await engine.nextJob('ag_a')).toBeUndefined();
    expect(await listAudit(f.store)).toEqual([expect.objectContaining({ actor: 'admin', action: 'deploy', outcome: 'queued', deploymentId: 'dep_0000000000aa', detail: `retry of ${dep.id} on 1 failed server: GitHub did not take it at once; it is queued` })]);
  });
});
