/**
 * The deploy page in GitHub mode, over real HTTP on loopback, on the real engine and store, with GitHub answered by
 * nock and every request it gets checked against GitHub's published description (`@octokit/openapi`: method, path
 * and each query parameter): the branch's commits listed from the GitHub API a page at a time with each commit's
 * checks, a red commit refused naming the failing checks (on the page and when posted anyway), a green one deployed,
 * and a person with read access only refused, audited under their login. The force rule of `/deploy --force`: one of
 * the environment's `forceUsers` (any case) deploys a red commit with "Deploy anyway (forced)" once they confirm
 * it — marked forced in the record and the audit log, which names them — while a writer not among them, and the
 * admin token's operator, are refused naming the checks and who may.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Octokit } from '@octokit/rest';
import nock from 'nock';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Environment } from '../../config-schema/types.generated.js';
import { listAudit } from '../../app/audit/audit-log.js';
import type { DeployThroughGitHub } from '../../app/api/roll-back-environment.js';
import { keys, type DeploymentRecord } from '../../app/model.js';
import { RepositoryAccess } from '../../app/auth/repository-access.js';
import type { StatusOctokit } from '../../app/github/status-reporter.js';
import { DashboardSessions } from '../../app/pages/dashboard-sessions.js';
import { githubCandidates } from '../../app/pages/deploy-form-candidates.js';
import { deployFormRoutes } from '../../app/pages/deploy-form-routes.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { createKoa } from '../../app/server.js';
import { silentLogger } from '../../lib/logger.js';
import { loadGitHubContract, type GitHubContract } from '../../testbed/github-contract.js';
import { openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';

const ADMIN_TOKEN = 'bt_admin_deploy-form-github-token-0123456';
const RED = '1'.repeat(40);
const GREEN = '2'.repeat(40);
const DEPLOY = '/environments/acme/shop/staging/deploy';
const at = '2026-11-25T09:00:00Z';

interface Parameter {
  name: string;
  in: string;
  schema?: { type?: string; enum?: string[] };
}
interface Spec {
  paths: Record<string, Record<string, { parameters?: Array<Parameter | { $ref: string }> }>>;
  components: { parameters: Record<string, Parameter> };
}

let contract: GitHubContract;
let spec: Spec;
let f: EngineFixture;
let engine: RolloutEngine;
let sessions: DashboardSessions;
let server: Server;
let base = '';
/** What the routes asked of the GitHub deployment path (it declines: the fixture's repository has `git:`). */
let throughGitHub: Array<Parameters<DeployThroughGitHub>> = [];
/** Every request GitHub got, for the contract check after each test. */
let seen: Array<{ method: string; url: URL }> = [];

beforeAll(async () => {
  contract = await loadGitHubContract('api.github.com');
  const pkg = createRequire(import.meta.url).resolve('@octokit/openapi/package.json');
  spec = JSON.parse(await readFile(join(dirname(pkg), 'generated', 'api.github.com.json'), 'utf8')) as Spec;
});

beforeEach(async () => {
  f = await openEngineFixture();
  engine = f.engine({ mode: 'github' });
  await f.addAgent('ag_a', 'web-1');
  seen = [];
  const octokit = new Octokit({ auth: 'ghs_installation-token' }) as unknown as StatusOctokit;
  sessions = new DashboardSessions({ store: f.store, adminToken: ADMIN_TOKEN, publicUrl: () => base });
  const access = new RepositoryAccess({ octokitFor: async () => octokit, environments: () => ({}) });
  const koa = createKoa(silentLogger());
  throughGitHub = [];
  const deployThroughGitHub: DeployThroughGitHub = (...args) => void throughGitHub.push(args);
  const router = deployFormRoutes({ store: f.store, engine, sessions, access, mode: 'github', config: () => configOf(), candidates: githubCandidates(async () => octokit), deployThroughGitHub });
  koa.use(router.routes()).use(router.allowedMethods());
  server = createServer(koa.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await f.close();
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
  expect(seen.flatMap(({ method, url }) => [...contract.problems(method, url.pathname), ...queryProblems(url)])).toEqual([]);
});

/** The engine fixture's config (acme/shop, staging follows main, group web), as the page reads it. */
function configOf() {
  return {
    sha: 'c'.repeat(40),
    groups: { web: { selector: { matchLabels: { role: 'web' } } } },
    strategies: { 'all-at-once': { type: 'all-at-once' as const } },
    repositories: {
      'acme/shop': { name: 'acme/shop', file: 'repositories/acme/shop.yml', git: 'https://git.test/acme/shop.git', instructions: 'deploy/bitenvoy.yml', environments: { staging: { branch: 'main', group: 'web', requiredChecks: ['test'], forceUsers: ['Fiona'] } as Environment } },
    },
  };
}

/** Why GitHub's description would not accept these query parameters on a GET of the path. */
function queryProblems(url: URL): string[] {
  const path = url.pathname;
  const template = Object.keys(spec.paths)
    .filter((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path))
    .sort((a, b) => b.replace(/\{[^}]+\}/g, '').length - a.replace(/\{[^}]+\}/g, '').length)[0];
  if (!template) return [`no operation for ${path}`];
  const declared = new Map(
    (spec.paths[template]!.get?.parameters ?? [])
      .map((p) => ('$ref' in p ? spec.components.parameters[p.$ref.split('/').pop()!]! : p))
      .filter((p) => p.in === 'query')
      .map((p) => [p.name, p.schema ?? {}]),
  );
  return [...url.searchParams].flatMap(([name, value]) => {
    const schema = declared.get(name);
    if (!schema) return [`GET ${template} declares no query parameter ${name}`];
    if (schema.enum && !schema.enum.includes(value)) return [`GET ${template}: ${name}=${value} is not one of ${schema.enum.join(', ')}`];
    if (schema.type === 'integer' && !/^\d+$/.test(value)) return [`GET ${template}: ${name}=${value} is not an integer`];
    return [];
  });
}

function github(): nock.Scope {
  return nock('https://api.github.com');
}

/** The branch's first page of commits, and each commit's check runs and (no) statuses. */
function serveCommitsAndChecks(): void {
  github()
    .get('/repos/acme/shop/commits')
    .query({ sha: 'main', per_page: '10', page: '1' })
    .reply(200, (request: Request) => {
      seen.push({ method: 'GET', url: new URL(request.url) });
      return [
        { sha: RED, commit: { message: 'break the build <b>now</b>\n\nlong text', author: { name: 'Mona', date: at } } },
        { sha: GREEN, commit: { message: 'a good change', author: { name: 'Hubot', date: at } } },
      ];
    });
  serveChecks(RED, 'failure');
  serveChecks(GREEN, 'success');
}

function serveChecks(sha: string, conclusion: string, times = 1): void {
  github()
    .get(`/repos/acme/shop/commits/${sha}/check-runs`)
    .query({ filter: 'all', per_page: '100', page: '1' })
    .times(times)
    .reply(200, (request: Request) => {
      seen.push({ method: 'GET', url: new URL(request.url) });
      return { total_count: 1, check_runs: [{ id: 1, name: 'test', status: 'completed', conclusion, started_at: at, completed_at: at }] };
    });
  github()
    .get(`/repos/acme/shop/commits/${sha}/status`)
    .query({ per_page: '100', page: '1' })
    .times(times)
    .reply(200, (request: Request) => {
      seen.push({ method: 'GET', url: new URL(request.url) });
      return { state: 'pending', total_count: 0, statuses: [] };
    });
}

async function request(path: string, options: { method?: string; form?: Record<string, string>; cookie?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.cookie) headers.cookie = options.cookie;
  let body: string | undefined;
  if (options.form) {
    headers.origin = base;
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  const res = await fetch(`${base}${path}`, { method: options.method ?? 'GET', headers, body, redirect: 'manual' });
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

async function session(who: Parameters<DashboardSessions['start']>[0]) {
  const s = await sessions.start(who);
  return { cookie: `bitenvoy_session=${s.id}`, csrf: s.csrfToken };
}

describe('the deploy page in GitHub mode', () => {
  it('lists the commits from GitHub with their checks; a red commit is refused naming the failing check, a green one deploys', async () => {
    serveCommitsAndChecks();
    const { cookie, csrf } = await session({ kind: 'admin' });
    const list = await request(DEPLOY, { cookie });
    expect(list.status).toBe(200);
    expect(list.html).toContain('break the build &lt;b&gt;now&lt;/b&gt;');
    expect(list.html).not.toContain('long text');
    expect(list.html).toContain('<span class="checks-red"><strong>red</strong>: checks failed: test (failure)</span>');
    expect(list.html).toContain('<span class="checks-green"><strong>green</strong>: all 1 required checks passed</span>');

    // Checks are kept a short while for the pages, but asked afresh before a deployment starts.
    serveChecks(RED, 'failure');
    serveChecks(GREEN, 'success');
    const plan = await request(`${DEPLOY}?sha=${RED}`, { cookie });
    expect(plan.html).toContain('<li>its checks are not green (checks failed: test (failure)); only forceUsers of `staging` (@Fiona) may deploy it anyway, signed in with GitHub</li>');
    expect(plan.html).not.toContain(`>Deploy ${RED.slice(0, 7)} to staging</button>`);
    expect(plan.html).not.toContain('Deploy anyway (forced)');
    const refused = await request(DEPLOY, { method: 'POST', cookie, form: { csrf, sha: RED } });
    expect(refused.status).toBe(409);
    expect(refused.html).toContain(`Cannot deploy \`${RED.slice(0, 7)}\` to \`staging\`: its checks are not green (checks failed: test (failure))`);
    expect((await listAudit(f.store, { limit: 10 })).at(-1)).toMatchObject({ actor: 'admin', action: 'deploy', sha: RED, outcome: 'refused' });

    const deployed = await request(DEPLOY, { method: 'POST', cookie, form: { csrf, sha: GREEN } });
    expect(deployed.status).toBe(303);
    expect(deployed.location).toMatch(/^\/deployments\/dep_/);
    expect((await listAudit(f.store, { limit: 10 })).at(-1)).toMatchObject({ actor: 'admin', action: 'deploy', sha: GREEN, outcome: 'started' });
  });

  it('refuses a person with read access only, asking GitHub afresh, and audits the refusal under their login', async () => {
    github()
      .get('/repos/acme/shop/collaborators/reader/permission')
      .times(2)
      .reply(200, (request: Request) => {
        seen.push({ method: 'GET', url: new URL(request.url) });
        return { permission: 'read', role_name: 'read', user: { login: 'reader' } };
      });
    serveCommitsAndChecks();
    const { cookie, csrf } = await session({ kind: 'github', login: 'reader' });
    const page = await request(DEPLOY, { cookie });
    expect(page.status).toBe(200);
    expect(page.html).toContain('You can view this environment but not deploy, roll back or lock it: sorry @reader, only people with write, maintain or admin permission on acme/shop can do that (you have read).');
    expect(page.html).not.toContain('name="csrf"');
    const refused = await request(`/environments/acme/shop/staging/lock`, { method: 'POST', cookie, form: { csrf, reason: 'mine now' } });
    expect(refused.status).toBe(403);
    expect(refused.html).toContain('Refused: sorry @reader, only people with write, maintain or admin permission on acme/shop can do that (you have read).');
    expect((await listAudit(f.store, { limit: 10 })).at(-1)).toMatchObject({ actor: 'reader', action: 'refused', outcome: 'refused' });
  });

  it('one of forceUsers (any case) deploys a red commit only once they confirm it: forced in the record and the audit log, which names them', async () => {
    serveWriter('fiona', 4);
    serveCommitsAndChecks();
    serveChecks(RED, 'failure', 2);
    serveChecks(GREEN, 'success');
    const { cookie, csrf } = await session({ kind: 'github', login: 'fiona' });
    const plan = await request(`${DEPLOY}?sha=${RED}`, { cookie });
    expect(plan.html).toContain('<li>its checks are not green (checks failed: test (failure)); as one of its forceUsers you may deploy it anyway: confirm &quot;Deploy anyway (forced)&quot; on its plan</li>');
    expect(plan.html).toContain(`<input type="checkbox" id="force-confirm" name="confirm" value="${RED}" required>`);
    expect(plan.html).toContain('<label for="force-confirm">Deploy <code>1111111</code> to <code>staging</code> anyway, past its checks: checks failed: test (failure)</label>');
    expect(plan.html).toContain('<button type="submit" class="danger">Deploy anyway (forced)</button>');
    expect(plan.html).not.toContain(`>Deploy ${RED.slice(0, 7)} to staging</button>`);

    // The box not ticked (a form of their own making, or a browser that skipped `required`): refused, nothing made.
    const unconfirmed = await request(DEPLOY, { method: 'POST', cookie, form: { csrf, sha: RED, force: '1' } });
    expect(unconfirmed.status).toBe(409);
    expect(unconfirmed.html).toContain('deploying it anyway needs your confirmation: tick the box naming its checks (checks failed: test (failure)), then &quot;Deploy anyway (forced)&quot;');
    expect((await listAudit(f.store, { limit: 10 })).at(-1)).toMatchObject({ actor: 'fiona', action: 'deploy', sha: RED, outcome: 'refused' });

    const forced = await request(DEPLOY, { method: 'POST', cookie, form: { csrf, sha: RED, force: '1', confirm: RED } });
    expect(forced.status).toBe(303);
    const id = /^\/deployments\/(dep_[\w-]+)$/.exec(forced.location ?? '')![1]!;
    expect(await f.store.get<DeploymentRecord>(keys.deployment(id))).toMatchObject({ sha: RED, forced: true, createdBy: 'fiona', trigger: 'dashboard' });
    expect((await listAudit(f.store, { limit: 10 })).at(-1)).toEqual(
      expect.objectContaining({ actor: 'fiona', action: 'deploy', sha: RED, outcome: 'started', deploymentId: id, forced: true, detail: 'forced past checks that are not green (checks failed: test (failure))' }),
    );
    // In GitHub mode (a repository without `git:`) the GitHub Deployment would say it, and name the person.
    expect(throughGitHub.at(-1)).toEqual([{ repository: 'acme/shop', ref: RED, environment: 'staging' }, 'fiona', { description: 'BitEnvoy: deployed from the status page by fiona (forced)', trigger: 'dashboard', forced: true, person: 'fiona' }]);

    // Green checks: nothing to force past, so a forced form deploys it plainly.
    const green = await request(DEPLOY, { method: 'POST', cookie, form: { csrf, sha: GREEN, force: '1', confirm: GREEN } });
    expect(green.status).toBe(303);
    const greenId = /^\/deployments\/(dep_[\w-]+)$/.exec(green.location ?? '')![1]!;
    expect((await f.store.get<DeploymentRecord>(keys.deployment(greenId)))?.forced).toBeUndefined();
    expect((await listAudit(f.store, { limit: 10 })).at(-1)).not.toHaveProperty('forced');
  });

  it('a writer not among forceUsers, and the admin token, see the checks and who may force, and a forced post of theirs is refused', async () => {
    serveWriter('wendy', 2);
    serveCommitsAndChecks();
    serveChecks(RED, 'failure', 2);
    const wendy = await session({ kind: 'github', login: 'wendy' });
    const plan = await request(`${DEPLOY}?sha=${RED}`, { cookie: wendy.cookie });
    const why = 'its checks are not green (checks failed: test (failure)); only forceUsers of `staging` (@Fiona) may deploy it anyway, signed in with GitHub, and @wendy is not one of them';
    expect(plan.html).toContain(`<li>${why}</li>`);
    expect(plan.html).not.toContain('Deploy anyway (forced)');
    expect(plan.html).not.toContain('name="confirm"');

    const refused = await request(DEPLOY, { method: 'POST', cookie: wendy.cookie, form: { csrf: wendy.csrf, sha: RED, force: '1', confirm: RED } });
    expect(refused.status).toBe(409);
    expect(refused.html).toContain(`Cannot deploy \`${RED.slice(0, 7)}\` to \`staging\`: ${why}`);
    expect((await listAudit(f.store, { limit: 10 })).at(-1)).toMatchObject({ actor: 'wendy', action: 'deploy', sha: RED, outcome: 'refused' });

    // The admin token's operator is no GitHub login: `forceUsers` never names them.
    const admin = await session({ kind: 'admin' });
    const adminRefused = await request(DEPLOY, { method: 'POST', cookie: admin.cookie, form: { csrf: admin.csrf, sha: RED, force: '1', confirm: RED } });
    expect(adminRefused.status).toBe(409);
    expect(adminRefused.html).toContain('only forceUsers of `staging` (@Fiona) may deploy it anyway, signed in with GitHub');
    expect((await listAudit(f.store, { limit: 10 })).filter((e) => e.outcome !== 'refused')).toEqual([]);
    expect(throughGitHub).toEqual([]);
  });
});

/** `login` has write access on acme/shop, asked `times` times (each post asks afresh). */
function serveWriter(login: string, times: number): void {
  github()
    .get(`/repos/acme/shop/collaborators/${login}/permission`)
    .times(times)
    .reply(200, (request: Request) => {
      seen.push({ method: 'GET', url: new URL(request.url) });
      return { permission: 'write', role_name: 'write', user: { login } };
    });
}
