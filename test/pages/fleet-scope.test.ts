/**
 * What of the fleet a person signed in with GitHub sees on the agents, config and deployments pages (fleet-scope.ts),
 * over real HTTP on the real store and engine, with GitHub played by the GitHub stand-in (its permission answers;
 * every request it gets is checked against GitHub's published description). Two owners, each with its own config:
 * `acme` (acme/shop, group `web`) and `globex` (globex/api, group `db`). Rita can read globex/api only; Nobody can
 * read nothing; the admin token's operator sees everything.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Probot, ProbotOctokit } from 'probot';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RepositoryAccess } from '../../app/auth/repository-access.js';
import type { ConfigInForce, ConfigStatus } from '../../app/config/config-repo.js';
import type { StatusOctokit } from '../../app/github/status-reporter.js';
import { agentsPageRoutes } from '../../app/pages/agents-page-routes.js';
import { configPageRoutes } from '../../app/pages/config-page-routes.js';
import { DashboardSessions, type SignedInAs } from '../../app/pages/dashboard-sessions.js';
import { deploymentPageRoutes } from '../../app/pages/deployment-page-routes.js';
import { pageAccess } from '../../app/pages/page-access.js';
import { SESSION_COOKIE } from '../../app/pages/session-cookie.js';
import { createKoa } from '../../app/server.js';
import { silentLogger } from '../../lib/logger.js';
import { startGitHubStandIn, type GitHubStandIn } from '../../testbed/github-stand-in.js';
import { DEPLOY, configWith, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';
import { serveRoutes, type ServedRoutes } from '../helpers/serve-routes.js';

const ADMIN_TOKEN = 'bt_admin_fleet-scope-test-token-0123456789';
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

const acme: ConfigInForce = configWith('all-at-once');
const globex: ConfigInForce = {
  sha: 'd'.repeat(40),
  groups: { db: { selector: { matchLabels: { role: 'db' } } } },
  strategies: acme.strategies,
  repositories: {
    'globex/api': { name: 'globex/api', file: 'repositories/globex/api.yml', git: 'https://git.test/globex/api.git', instructions: 'bitenvoy.yml', environments: { production: { branch: 'main', group: 'db' } } },
  },
};
const statuses: ConfigStatus[] = [
  { source: 'acme/.bitenvoy', owner: 'acme', sha: acme.sha },
  { source: 'globex/.bitenvoy', owner: 'globex', sha: globex.sha },
];
const configs = { inForce: () => [acme, globex], current: (r: string) => (r.startsWith('acme/') ? acme : globex), statuses: () => statuses, repoName: '.bitenvoy' };

let github: GitHubStandIn;
let probot: Probot;
let f: EngineFixture;
let served: ServedRoutes;
let sessions: DashboardSessions;
let base = '';

beforeAll(async () => {
  github = await startGitHubStandIn({ gitUrl: 'http://127.0.0.1:9', appId: '123', privateKey, webhookSecret: 'unused' });
  github.addInstallation('acme', 11);
  github.addInstallation('globex', 12);
  // The stand-in's default is admin: every other answer is set.
  github.setPermission('globex/api', 'rita', 'read');
  for (const repository of ['acme/shop', 'acme/.bitenvoy', 'globex/.bitenvoy']) github.setPermission(repository, 'rita', 'none');
  for (const repository of ['acme/shop', 'acme/.bitenvoy', 'globex/api', 'globex/.bitenvoy']) github.setPermission(repository, 'nobody', 'none');
  probot = new Probot({ appId: 123, privateKey, baseUrl: `${github.url}/api/v3`, log: silentLogger(), Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });
}, 60_000);
afterAll(async () => {
  await github?.close();
});

beforeEach(async () => {
  f = await openEngineFixture();
  f.strategy = 'all-at-once';
  const engine = f.engine();
  await f.addAgent('ag_a', 'web-1');
  await f.addAgent('ag_d', 'db-1', { role: 'db' });
  // web-1 runs acme/shop: a release and a job Rita must not see on its page.
  await engine.createDeployment(DEPLOY, 'test');
  await f.agentRuns(engine, 'ag_a');
  sessions = new DashboardSessions({ store: f.store, adminToken: ADMIN_TOKEN, publicUrl: () => base });
  const access = new RepositoryAccess({ octokitFor: async (r) => (await probot.auth(r.startsWith('acme/') ? 11 : 12)) as StatusOctokit, environments: () => undefined });
  const routers = [
    agentsPageRoutes({ store: f.store, configs, sessions, access, heartbeatSeconds: 60 }),
    configPageRoutes({ store: f.store, configs, sessions, access, heartbeatSeconds: 60 }),
    deploymentPageRoutes({ store: f.store, engine, configStatus: () => statuses, configs, sessions, access }),
  ];
  served = await serveRoutes(routers, { koa: createKoa(silentLogger()), before: [pageAccess({ store: f.store, sessions, access, isPublic: false })] });
  base = served.base;
});
afterEach(async () => {
  await served.close();
  await f.close();
  expect(github.problems()).toEqual([]);
});

async function get(path: string, who: SignedInAs): Promise<{ status: number; html: string }> {
  const session = await sessions.start(who);
  const res = await fetch(`${base}${path}`, { headers: { cookie: `${SESSION_COOKIE}=${session.id}` }, redirect: 'manual' });
  return { status: res.status, html: await res.text() };
}

const rita: SignedInAs = { kind: 'github', login: 'rita' };
const nobody: SignedInAs = { kind: 'github', login: 'nobody' };

describe('the fleet pages for a person signed in with GitHub', () => {
  it('shows only the configs, groups and jobs of repositories the person can read', async () => {
    const config = await get('/config', rita);
    expect(config.status).toBe(200);
    expect(config.html).toContain('globex/.bitenvoy');
    expect(config.html).not.toContain('acme/.bitenvoy');
    expect(config.html).toMatch(/<th scope="row">db/);
    expect(config.html).not.toMatch(/<th scope="row">web/);

    const agent = await get('/agents/web-1', rita);
    expect(agent.status).toBe(200);
    expect(agent.html).not.toContain('acme/shop');
    expect(agent.html).toContain('1 of them, of repositories your GitHub account cannot read, are not shown');
    expect(agent.html).toContain('1 more, of repositories your GitHub account cannot read, are not shown');
    expect(agent.html).toContain('No job has succeeded on this agent yet.');
    // Groups: only globex's `db` is judged for the agent.
    expect(agent.html).not.toMatch(/>web</);

    // A group of a config the person cannot read is not found, not listed.
    expect((await get('/agents?group=web', rita)).status).toBe(404);
    expect((await get('/agents?group=db', rita)).html).toContain('db-1');

    const list = await get('/deployments', rita);
    expect(list.html).toContain('db-1');
    expect(list.html).toContain('globex/.bitenvoy');
    expect(list.html).not.toContain('acme/.bitenvoy');
  });

  it('refuses the fleet to a GitHub account that can read none of the repositories, saying why', async () => {
    for (const path of ['/agents', '/agents/web-1', '/config']) {
      const res = await get(path, nobody);
      expect(res.status, path).toBe(403);
      expect(res.html, path).toContain('cannot read any repository this hub deploys');
      expect(res.html, path).not.toContain('web-1</a>');
      expect(res.html, path).not.toContain('/.bitenvoy');
    }
    const list = await get('/deployments', nobody);
    expect(list.status).toBe(200);
    expect(list.html).toContain('so its servers are not shown');
    expect(list.html).not.toContain('web-1');
    expect(list.html).not.toContain('/.bitenvoy');
    expect(list.html).toContain('Config repos are shown to people who can read a repository they govern');
  });

  it('shows the admin token operator everything', async () => {
    const config = await get('/config', { kind: 'admin' });
    expect(config.html).toContain('acme/.bitenvoy');
    expect(config.html).toContain('globex/.bitenvoy');
    const agent = await get('/agents/web-1', { kind: 'admin' });
    expect(agent.html).toMatch(/<th scope="row">acme\/shop<\/th><td><a href="\/environments\/acme\/shop\/staging">/);
    expect(agent.html).not.toContain('are not shown');
  });
});
