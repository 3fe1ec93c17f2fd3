/**
 * People sign in to the status pages as themselves, over real HTTP on loopback, on the real engine and store, with
 * GitHub played by the repository's GitHub stand-in (its OAuth endpoints, `GET /user` and per-user repository
 * permissions; every REST request it gets is checked against GitHub's published description): Sign in with GitHub
 * and its `state`, what read / write / deployers allow, the permission cache, BITENVOY_DASHBOARD_PUBLIC, named
 * operators' one-time links, and the limit on failed sign-ins.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Probot, ProbotOctokit } from 'probot';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Environment } from '../../config-schema/types.generated.js';
import { listAudit } from '../../app/audit/audit-log.js';
import { createOperator, redeemSignInLink } from '../../app/auth/operators.js';
import { operatorRoutes } from '../../app/auth/operator-routes.js';
import { PERMISSION_TTL_MS, RepositoryAccess } from '../../app/auth/repository-access.js';
import { SignInAttempts } from '../../app/auth/sign-in-attempts.js';
import { ADMIN_TOKEN_GUESSES, GuessLimiter } from '../../app/api/guess-limiter.js';
import type { StatusOctokit } from '../../app/github/status-reporter.js';
import { readHubSettings } from '../../app/hub-settings.js';
import { keys, type DeploymentRecord } from '../../app/model.js';
import { DashboardSessions } from '../../app/pages/dashboard-sessions.js';
import { deploymentActionRoutes } from '../../app/pages/deployment-action-routes.js';
import { deploymentPageRoutes } from '../../app/pages/deployment-page-routes.js';
import { environmentsPageRoutes } from '../../app/pages/environments-page-routes.js';
import { githubSignInRoutes } from '../../app/pages/github-sign-in-routes.js';
import { pageAccess } from '../../app/pages/page-access.js';
import { signInLinkRoutes } from '../../app/pages/sign-in-link-routes.js';
import { signInRoutes } from '../../app/pages/sign-in-routes.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { createKoa } from '../../app/server.js';
import { operatorExists } from '../../app/auth/operators.js';
import { silentLogger } from '../../lib/logger.js';
import { startGitHubStandIn, type GitHubStandIn } from '../../testbed/github-stand-in.js';
import { DEPLOY, configWith, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';
import { serveRoutes, type ServedRoutes } from '../helpers/serve-routes.js';
import type { Context, Next } from 'koa';

const ADMIN_TOKEN = 'bt_admin_sign-in-test-token-0123456789';
const INSTALLATION = 4242;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

let github: GitHubStandIn;
let probot: Probot;
let f: EngineFixture;
let engine: RolloutEngine;
let base = '';
let served: ServedRoutes;
let clock = Date.now();
let isPublic = false;
let environments: Record<string, Environment> = {};

beforeAll(async () => {
  github = await startGitHubStandIn({ gitUrl: 'http://127.0.0.1:9', appId: '123', privateKey, webhookSecret: 'unused' });
  github.addInstallation('acme', INSTALLATION);
  probot = new Probot({ appId: 123, privateKey, baseUrl: `${github.url}/api/v3`, log: silentLogger(), Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });
}, 60_000);
afterAll(async () => {
  await github?.close();
});

beforeEach(async () => {
  f = await openEngineFixture();
  f.strategies = { bird: { type: 'canary', canary: { size: 1, pause: 'manual' } } };
  f.strategy = 'bird';
  engine = f.engine();
  await f.addAgent('ag_a', 'web-1');
  await f.addAgent('ag_b', 'web-2');
  clock = Date.now();
  isPublic = false;
  environments = { staging: { branch: 'main', group: 'web' } as Environment };
  github.autoAuthorize = undefined;
  const sessions = new DashboardSessions({ store: f.store, adminToken: ADMIN_TOKEN, publicUrl: () => base, operatorExists: (name, id) => operatorExists(f.store, name, id) });
  const access = new RepositoryAccess({ octokitFor: async () => (await probot.auth(INSTALLATION)) as StatusOctokit, environments: () => environments, now: () => clock });
  const settings = { clientId: github.clientId, clientSecret: github.clientSecret, webUrl: github.url, apiUrl: `${github.url}/api/v3` };
  // One limit for failed callbacks and links, as the hub shares it.
  const attempts = new SignInAttempts();
  const routers = [
    deploymentPageRoutes({ store: f.store, engine, configStatus: () => [], sessions, access }),
    environmentsPageRoutes({ store: f.store, configs: { inForce: () => [configWith('bird')], current: () => configWith('bird') }, sessions, access }),
    signInRoutes(sessions, ADMIN_TOKEN, { github: true }),
    githubSignInRoutes({ store: f.store, sessions, settings, publicUrl: () => base, attempts }),
    signInLinkRoutes({ store: f.store, sessions, attempts }),
    operatorRoutes({ store: f.store, adminToken: ADMIN_TOKEN, guesses: new GuessLimiter(ADMIN_TOKEN_GUESSES), publicUrl: () => base }),
    deploymentActionRoutes({ store: f.store, engine, sessions, access }),
  ];
  // The page guard reads the setting at each request here, so one server serves both cases.
  const guard = (ctx: Context, next: Next) => pageAccess({ store: f.store, sessions, access, isPublic })(ctx, next);
  served = await serveRoutes(routers, { koa: createKoa(silentLogger()), before: [guard] });
  base = served.base;
});
afterEach(async () => {
  await served.close();
  await f.close();
  expect(github.problems()).toEqual([]);
});

interface Answer {
  status: number;
  html: string;
  location: string | null;
  cookies: string[];
  headers: Headers;
}

async function request(url: string, options: { method?: string; form?: Record<string, string>; cookie?: string; json?: unknown; bearer?: string; address?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.cookie) headers.cookie = options.cookie;
  if ((options.method ?? 'GET') === 'POST' && options.form) headers.origin = base;
  let body: string | undefined;
  if (options.form) {
    body = new URLSearchParams(options.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  }
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  // A client address of the test's choosing (loopback is a trusted proxy by default).
  if (options.address) headers['x-forwarded-for'] = options.address;
  const res = await fetch(url.startsWith('http') ? url : `${base}${url}`, { method: options.method ?? 'GET', headers, body, redirect: 'manual' });
  return { status: res.status, html: await res.text(), location: res.headers.get('location'), cookies: res.headers.getSetCookie(), headers: res.headers };
}

const cookieOf = (res: Answer, name: string) => res.cookies.find((c) => c.startsWith(`${name}=`));

/** Sign in with GitHub as `login`, the whole way through the stand-in; returns the session cookie to send back. */
async function signInWithGitHub(login: string, next = '/'): Promise<{ cookie: string; answer: Answer }> {
  github.autoAuthorize = login;
  const start = await request(`/login/github?next=${encodeURIComponent(next)}`);
  expect(start.status).toBe(302);
  const state = cookieOf(start, 'bitenvoy_sign_in')!.split(';')[0]!;
  const authorized = await request(start.location!);
  expect(authorized.status).toBe(302);
  const callback = await request(authorized.location!, { cookie: state });
  expect(callback.status).toBe(200);
  return { cookie: cookieOf(callback, 'bitenvoy_session')!.split(';')[0]!, answer: callback };
}

async function pausedDeployment(): Promise<DeploymentRecord> {
  const dep = await engine.createDeployment(DEPLOY, 'test');
  await f.agentRuns(engine, 'ag_a');
  const paused = (await f.store.get<DeploymentRecord>(keys.deployment(dep.id)))!;
  expect(paused.gate).toMatchObject({ manual: true });
  return paused;
}

const csrfIn = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1];

describe('Sign in with GitHub', () => {
  it('sends the browser to GitHub with a state bound to it, exchanges the code server-side and starts a session in the login', async () => {
    const start = await request('/login/github?next=/deployments/dep_1');
    expect(start.status).toBe(302);
    const to = new URL(start.location!);
    expect(`${to.origin}${to.pathname}`).toBe(`${github.url}/login/oauth/authorize`);
    expect(to.searchParams.get('client_id')).toBe(github.clientId);
    expect(to.searchParams.get('redirect_uri')).toBe(`${base}/login/github/callback`);
    const state = to.searchParams.get('state')!;
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The state's cookie: Lax (GitHub's redirect back is cross-site), HttpOnly, only for the callback's path.
    expect(cookieOf(start, 'bitenvoy_sign_in')).toMatch(new RegExp(`^bitenvoy_sign_in=${state}; Path=/login/github; HttpOnly; SameSite=Lax; Max-Age=600$`));

    github.autoAuthorize = 'octocat';
    const back = await request(start.location!);
    const callback = await request(back.location!, { cookie: `bitenvoy_sign_in=${state}` });
    expect(callback.status).toBe(200);
    const session = cookieOf(callback, 'bitenvoy_session')!;
    expect(session).toMatch(/; HttpOnly; SameSite=Strict; /);
    // A page of this hub moves on to `next`: a same-site navigation, which carries the Strict cookie.
    expect(callback.html).toContain('<meta http-equiv="refresh" content="0; url=/deployments/dep_1">');
    expect(callback.html).toContain('signed in as octocat (GitHub)');
    // The user token stays with the hub for the one request: not in the cookie, the page, or the store.
    expect(callback.html + callback.cookies.join()).not.toMatch(/ghu_/);
    expect(JSON.stringify(await f.store.list('dashboard-session:')) + JSON.stringify(await f.store.list('sign-in-state:'))).not.toMatch(/ghu_/);
    expect(github.requests.filter((r) => r.path === '/user')).toHaveLength(1);

    const login = await request('/login', { cookie: session.split(';')[0]! });
    expect(login.html).toContain('You are signed in as octocat (GitHub)');

    // The state is single use: the same callback again (a replayed URL) is refused.
    const again = await request(back.location!, { cookie: `bitenvoy_sign_in=${state}` });
    expect(again.status).toBe(403);
    expect(again.html).toContain('this sign-in was used already');
  });

  it("refuses a callback whose state is not this browser's (a planted callback URL) or that GitHub refused", async () => {
    github.autoAuthorize = 'mallory';
    const mallorys = await request('/login/github');
    const back = await request(mallorys.location!);
    // Another browser, with a sign-in of its own (or none), follows mallory's callback URL.
    const victim = await request('/login/github');
    const victimState = cookieOf(victim, 'bitenvoy_sign_in')!.split(';')[0]!;
    for (const cookie of [victimState, undefined]) {
      const res = await request(back.location!, cookie ? { cookie } : {});
      expect(res.status).toBe(403);
      expect(res.html).toContain('this sign-in was not started in this browser');
      expect(cookieOf(res, 'bitenvoy_session')).toBeUndefined();
    }
    const denied = await request('/login/github/callback?error=access_denied&error_description=The+user+has+denied+your+application+access.');
    expect(denied.status).toBe(401);
    expect(denied.html).toContain('GitHub did not sign you in (access_denied: The user has denied your application access.)');
  });
});

describe('what a person may do follows their GitHub permission', () => {
  it('read: sees the deployment without buttons, and a forged post is refused with 403 naming why', async () => {
    github.setPermission('acme/shop', 'rita', 'read');
    const dep = await pausedDeployment();
    const { cookie } = await signInWithGitHub('rita');
    const view = await request(`/deployments/${dep.id}`, { cookie });
    expect(view.status).toBe(200);
    expect(view.html).toContain('acme/shop → staging');
    expect(view.html).not.toContain('Continue rollout');
    expect(view.html).not.toContain('Cancel deployment');
    expect(view.html).toContain('You can view this deployment but not continue or cancel it: sorry @rita, only people with write, maintain or admin permission on acme/shop can do that (you have read).');
    // The page carries the session's CSRF token (for Sign out): a hand-made post has everything but the permission.
    const forged = await request(`/deployments/${dep.id}/continue`, { method: 'POST', cookie, form: { csrf: csrfIn(view.html)! } });
    expect(forged.status).toBe(403);
    expect(forged.html).toContain('Refused: sorry @rita, only people with write, maintain or admin permission on acme/shop can do that (you have read).');
    expect((await f.store.get<DeploymentRecord>(keys.deployment(dep.id)))!.gate).toBeDefined();
    expect(await listAudit(f.store)).toEqual([]);
  });

  it('write (or maintain, admin): continues, and the audit log records the login', async () => {
    github.setPermission('acme/shop', 'wendy', 'maintain');
    const dep = await pausedDeployment();
    const { cookie } = await signInWithGitHub('wendy');
    const view = await request(`/deployments/${dep.id}`, { cookie });
    expect(view.html).toContain('Continue rollout');
    expect(view.html).toContain('Signed in as wendy');
    const res = await request(`/deployments/${dep.id}/continue`, { method: 'POST', cookie, form: { csrf: csrfIn(view.html)! } });
    expect(res.status).toBe(303);
    expect(await listAudit(f.store)).toEqual([expect.objectContaining({ actor: 'wendy', action: 'continue', outcome: 'continued', deploymentId: dep.id })]);
  });

  it("is narrowed by the environment's deployers, exactly as for PR commands", async () => {
    environments = { staging: { branch: 'main', group: 'web', deployers: { users: ['Boss'] } } as Environment };
    github.setPermission('acme/shop', 'wendy', 'write');
    github.setPermission('acme/shop', 'boss', 'write');
    const dep = await pausedDeployment();
    const wendy = await signInWithGitHub('wendy');
    const view = await request(`/deployments/${dep.id}`, { cookie: wendy.cookie });
    expect(view.html).toContain('not continue or cancel it: sorry @wendy, `staging` is deployed only by @Boss.');
    const refused = await request(`/deployments/${dep.id}/cancel`, { method: 'POST', cookie: wendy.cookie, form: { csrf: csrfIn(view.html)! } });
    expect(refused.status).toBe(403);
    expect(refused.html).toContain('is deployed only by @Boss');

    const boss = await signInWithGitHub('boss');
    const bossView = await request(`/deployments/${dep.id}`, { cookie: boss.cookie });
    const res = await request(`/deployments/${dep.id}/cancel`, { method: 'POST', cookie: boss.cookie, form: { csrf: csrfIn(bossView.html)! } });
    expect(res.status).toBe(303);
    expect(await listAudit(f.store)).toEqual([expect.objectContaining({ actor: 'boss', action: 'cancel' })]);
  });

  it('none: the deployment is "not found" and the overview leaves the repository out', async () => {
    github.setPermission('acme/shop', 'nora', 'none');
    const dep = await pausedDeployment();
    const { cookie } = await signInWithGitHub('nora');
    const view = await request(`/deployments/${dep.id}`, { cookie });
    expect(view.status).toBe(404);
    expect(view.html).not.toContain('acme/shop');
    const overview = await request('/deployments', { cookie });
    expect(overview.status).toBe(200);
    expect(overview.html).not.toContain(dep.id);
    github.setPermission('acme/shop', 'rita', 'read');
    const reader = await signInWithGitHub('rita');
    expect((await request('/deployments', { cookie: reader.cookie })).html).toContain(dep.id);
  });

  it('environments: a person without access sees none of the repository\'s environments and its page is "not found"; a reader sees both', async () => {
    github.setPermission('acme/shop', 'nora', 'none');
    github.setPermission('acme/shop', 'rita', 'read');
    await pausedDeployment();
    const nora = await signInWithGitHub('nora');
    const home = await request('/', { cookie: nora.cookie });
    expect(home.status).toBe(200);
    expect(home.html).not.toContain('acme/shop');
    expect(home.html).toContain('0 environments');
    expect(home.html).toMatch(/<li class="who">nora <form method="post" action="\/logout"><input type="hidden" name="csrf" value="[^"]+"><button type="submit" class="quiet">Sign out<\/button>/);
    const hidden = await request('/environments/acme/shop/staging', { cookie: nora.cookie });
    expect(hidden.status).toBe(404);
    const rita = await signInWithGitHub('rita');
    expect((await request('/', { cookie: rita.cookie })).html).toContain('<a href="/environments/acme/shop/staging">acme/shop');
    const own = await request('/environments/acme/shop/staging', { cookie: rita.cookie });
    expect(own.status).toBe(200);
    expect(own.html).toContain('<span class="state paused-state">paused</span>');
  });

  it('asks GitHub once per person and repository for 60 s, however many pages are viewed', async () => {
    github.setPermission('acme/shop', 'rita', 'read');
    const dep = await pausedDeployment();
    const { cookie } = await signInWithGitHub('rita');
    const asked = () => github.requests.filter((r) => r.path === '/repos/acme/shop/collaborators/rita/permission').length;
    const before = asked();
    for (let i = 0; i < 5; i++) expect((await request(`/deployments/${dep.id}`, { cookie })).status).toBe(200);
    await request('/deployments', { cookie });
    expect(asked() - before).toBe(1);
    clock += PERMISSION_TTL_MS + 1;
    await request(`/deployments/${dep.id}`, { cookie });
    expect(asked() - before).toBe(2);
  });
});

describe('BITENVOY_DASHBOARD_PUBLIC', () => {
  it('false: every page sends an unauthenticated visitor to sign in; true: pages are readable', async () => {
    const dep = await pausedDeployment();
    for (const path of ['/', '/deployments', '/environments/acme/shop/staging', `/deployments/${dep.id}`, `/deployments/${dep.id}/servers/whatever?lines=5`]) {
      const res = await request(path);
      expect(res.status).toBe(303);
      expect(res.location).toBe(`/login?next=${encodeURIComponent(path)}`);
      expect(res.html).not.toContain('acme/shop');
    }
    isPublic = true;
    const open = await request(`/deployments/${dep.id}`);
    expect(open.status).toBe(200);
    expect(open.html).toContain('acme/shop → staging');
  });

  it('defaults to false in GitHub mode and true in local mode; a wrong value stops the hub', () => {
    const local = { BITENVOY_DATA_DIR: '/nonexistent/bitenvoy-test', BITENVOY_ADMIN_TOKEN: ADMIN_TOKEN };
    const app = { ...local, APP_ID: '1', PRIVATE_KEY: privateKey, WEBHOOK_SECRET: 's' };
    expect(readHubSettings(local).dashboardPublic).toBe(true);
    expect(readHubSettings(app).dashboardPublic).toBe(false);
    expect(readHubSettings({ ...app, BITENVOY_DASHBOARD_PUBLIC: 'true' }).dashboardPublic).toBe(true);
    expect(readHubSettings({ ...local, BITENVOY_DASHBOARD_PUBLIC: 'false' }).dashboardPublic).toBe(false);
    expect(() => readHubSettings({ ...local, BITENVOY_DASHBOARD_PUBLIC: 'maybe' })).toThrow('BITENVOY_DASHBOARD_PUBLIC=maybe: expected `true` or `false`');
    expect(readHubSettings({ ...app, GITHUB_CLIENT_ID: 'Iv1.x', GITHUB_CLIENT_SECRET: 'y', GHE_HOST: 'ghe.example', GHE_PROTOCOL: 'http' }).githubSignIn).toEqual({
      clientId: 'Iv1.x',
      clientSecret: 'y',
      webUrl: 'http://ghe.example',
      apiUrl: 'http://ghe.example/api/v3',
    });
    expect(readHubSettings({ ...app, GITHUB_CLIENT_ID: 'Iv1.x', GITHUB_CLIENT_SECRET: 'y' }).githubSignIn).toMatchObject({ webUrl: 'https://github.com', apiUrl: 'https://api.github.com' });
    expect(() => readHubSettings({ ...app, GITHUB_CLIENT_ID: 'Iv1.x' })).toThrow('GITHUB_CLIENT_SECRET is not set but GITHUB_CLIENT_ID is');
  });
});

describe("named operators' one-time links", () => {
  it('create prints a link; opening it spends nothing; its button signs in as the operator, whose actions are audited by name', async () => {
    const made = await request('/api/v1/operators', { method: 'POST', bearer: ADMIN_TOKEN, json: { name: 'alice' } });
    expect(made.status).toBe(201);
    const { link } = JSON.parse(made.html) as { link: string };
    expect(link).toMatch(new RegExp(`^${base}/login/link\\?token=bto_[A-Za-z0-9_-]{43}$`));
    const token = new URL(link).searchParams.get('token')!;
    // Only the token's hash is kept.
    expect(JSON.stringify(await f.store.list('operator-link:'))).not.toContain(token);

    const opened = await request(link);
    expect(opened.status).toBe(200);
    expect(opened.headers.get('referrer-policy')).toBe('same-origin');
    expect(opened.cookies).toEqual([]);
    // Fetched twice (a link preview, then the person): still unspent.
    await request(link);
    const signedIn = await request('/login/link', { method: 'POST', form: { token } });
    expect(signedIn.status).toBe(200);
    expect(signedIn.html).toContain('signed in as alice (operator)');
    const cookie = cookieOf(signedIn, 'bitenvoy_session')!.split(';')[0]!;

    const dep = await pausedDeployment();
    const view = await request(`/deployments/${dep.id}`, { cookie });
    expect(view.html).toContain('Continue rollout');
    await request(`/deployments/${dep.id}/continue`, { method: 'POST', cookie, form: { csrf: csrfIn(view.html)! } });
    expect((await listAudit(f.store)).filter((e) => e.action === 'continue')).toEqual([expect.objectContaining({ actor: 'alice', deploymentId: dep.id })]);

    // Single use.
    const again = await request('/login/link', { method: 'POST', form: { token } });
    expect(again.status).toBe(401);
    expect(again.html).toContain('unknown to this hub, or was used already');

    // Listing, then removing: her session ends at once.
    expect(JSON.parse((await request('/api/v1/operators', { bearer: ADMIN_TOKEN })).html)).toEqual({ operators: [expect.objectContaining({ name: 'alice' })] });
    expect((await request('/api/v1/operators/alice', { method: 'DELETE', bearer: ADMIN_TOKEN })).status).toBe(200);
    const after = await request(`/deployments/${dep.id}`, { cookie });
    expect(after.status).toBe(303);
    expect(after.location).toMatch(/^\/login\?next=/);
    // Made again under the same name: the old session does not come back.
    await request('/api/v1/operators', { method: 'POST', bearer: ADMIN_TOKEN, json: { name: 'alice' } });
    expect((await request(`/deployments/${dep.id}`, { cookie })).status).toBe(303);
  });

  it('refuses an expired link, a link of a removed operator, and names no-one without the admin token', async () => {
    const old = await createOperator(f.store, 'bob', { createdBy: 'test', now: Date.now() - 25 * 3600_000 });
    await expect(redeemSignInLink(f.store, old.token)).rejects.toThrow(/this sign-in link expired at .*; ask the hub's admin for a new link/);
    const fresh = await createOperator(f.store, 'bob', { createdBy: 'test' });
    expect(fresh.existed).toBe(true);
    await request('/api/v1/operators/bob', { method: 'DELETE', bearer: ADMIN_TOKEN });
    await expect(redeemSignInLink(f.store, fresh.token)).rejects.toThrow('operator bob was removed after this link was made');
    expect((await request('/api/v1/operators', { method: 'POST', json: { name: 'eve' } })).status).toBe(401);
    expect((await request('/api/v1/operators', { method: 'POST', bearer: ADMIN_TOKEN, json: { name: 'admin' } })).status).toBe(400);
  });
});

describe('failed sign-ins are limited', () => {
  it('10 failed links or callbacks per address, then 429 with Retry-After — even for a right link; other addresses are not held back', async () => {
    const { token } = await createOperator(f.store, 'carol', { createdBy: 'test' });
    for (let i = 0; i < 5; i++) expect((await request('/login/link', { method: 'POST', form: { token: `bto_${'x'.repeat(43)}` }, address: '203.0.113.7' })).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await request('/login/github/callback?state=s&code=c', { address: '203.0.113.7' })).status).toBe(403);
    const blocked = await request('/login/link', { method: 'POST', form: { token }, address: '203.0.113.7' });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(blocked.html).toContain('Too many wrong sign-in attempts from your address (203.0.113.7); try again in');
    expect((await request('/login/github/callback?state=s&code=c', { address: '203.0.113.7' })).status).toBe(429);
    // The right link still works from elsewhere: it was not spent by the refused attempt.
    const ok = await request('/login/link', { method: 'POST', form: { token }, address: '198.51.100.1' });
    expect(ok.status).toBe(200);
  });
});
