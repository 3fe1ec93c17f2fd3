/**
 * `bitenvoy deploy` (the admin API) in GitHub mode, for a repository configured without `git:`: a GitHub Deployment
 * made with the App's installation, whose rollout starts at once — GitHub answered by nock, every request checked
 * against GitHub's REST description.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Probot } from 'probot';
import { CREATE_DEPLOYMENT_EFFECT, createDeploymentKind } from '../../app/github/create-deployment-effect.js';
import { GitHubOutbox } from '../../app/github/github-outbox.js';
import type { GitHubStatusReporter } from '../../app/github/status-reporter.js';
import { deploysThroughGitHub, deployThroughGitHub, type DeployThroughGitHubDeps } from '../../app/github/deploy-through-github.js';
import { keys, type AgentRecord } from '../../app/model.js';
import { takeLock } from '../../app/rollout/environment-locks.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import { BUILT_IN_STRATEGIES, type LoadedConfig } from '../../config-schema/validate-config-dir.js';
import type { BitEnvoyError } from '../../lib/errors.js';
import { silentLogger } from '../../lib/logger.js';
import { loadGitHubContract } from '../../testbed/github-contract.js';
import { createGitHubAppRig, HUB_URL } from '../helpers/github-app-rig.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- GitHub's JSON
const REPO = 'acme/shop';
const SHA = 'f'.repeat(40);
const config = (): LoadedConfig & { sha: string } => ({
  sha: 'c'.repeat(40),
  groups: { web: { selector: { matchLabels: { role: 'web' } } } },
  strategies: BUILT_IN_STRATEGIES,
  repositories: { [REPO]: { name: REPO, file: `repositories/${REPO}.yml`, instructions: 'bitenvoy.yml', environments: { staging: { branch: 'main', group: 'web' }, production: { branch: 'main', group: 'web', after: 'staging' } } } },
});

let dir: string;
let store: Store;
let engine: RolloutEngine;
let reporter: GitHubStatusReporter;
let deps: DeployThroughGitHubDeps;
let outbox: GitHubOutbox;
let probot: Probot;
let startDeployment: ReturnType<typeof createGitHubAppRig>['startDeployment'];
let requests: Array<{ method: string; path: string; body?: Json }>;
let problems: string[];
let installed: boolean;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-ghdeploy-'));
  store = await openStore({ dataDir: dir });
  const rig = createGitHubAppRig(store, config);
  engine = rig.engine;
  reporter = rig.reporter;
  outbox = rig.outbox;
  probot = rig.probot;
  startDeployment = rig.startDeployment;
  deps = { store, config: () => config(), appOctokit: () => rig.probot.auth(), octokitFor: (id) => rig.probot.auth(id), outbox, publicUrl: () => HUB_URL };
  const agent: AgentRecord = { id: 'ag_1', name: 'web-1', labels: { role: 'web' }, version: 't', credentialHash: 'x', enrolledAt: new Date().toISOString(), lastSeenAt: new Date().toISOString() };
  await store.set(keys.agent(agent.id), agent);
  requests = [];
  problems = [];
  installed = true;
  const github = await loadGitHubContract('api.github.com');
  const seen = (method: string) => (path: string, body?: Json) => {
    requests.push({ method, path, ...(body ? { body } : {}) });
    problems.push(...github.problems(method, path.split('?')[0]!, body));
    return true;
  };
  let body: Json = {};
  nock('https://api.github.com')
    .persist()
    .get(`/repos/${REPO}/installation`)
    .reply(() => (seen('GET')(`/repos/${REPO}/installation`), installed ? [200, { id: 7 }] : [404, { message: 'Not Found' }]))
    .post('/app/installations/7/access_tokens')
    .reply(201, () => ({ token: 'ghs_test', expires_at: new Date(Date.now() + 3600_000).toISOString() }))
    .get(`/repos/${REPO}`)
    .reply(200, () => (seen('GET')(`/repos/${REPO}`), { full_name: REPO, name: 'shop', owner: { login: 'acme' }, clone_url: 'https://github.com/acme/shop.git' }))
    .get(`/repos/${REPO}/commits/main`)
    .reply(200, () => (seen('GET')(`/repos/${REPO}/commits/main`), { sha: SHA }))
    .post(`/repos/${REPO}/deployments`, (b: Json) => ((body = b), true))
    .reply(201, () => (seen('POST')(`/repos/${REPO}/deployments`, body), { id: 901, sha: SHA, ref: SHA, environment: body.environment, payload: body.payload, creator: { login: 'bitenvoy[bot]' } }))
    .post(/\/repos\/acme\/shop\/deployments\/901\/statuses/, (b: Json) => ((body = b), true))
    // nock hands the reply function the fetch Request.
    .reply(201, (req: Request) => (seen('POST')(new URL(req.url).pathname, body), {}));
});

afterEach(async () => {
  // What the test started reaches GitHub now, not in the next test's GitHub.
  await outbox.idle();
  outbox.close();
  await reporter.idle();
  engine.stop();
  nock.cleanAll();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const refusal = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a refusal'); }, (err: unknown) => err as BitEnvoyError);

describe('deployThroughGitHub', () => {
  it('applies to repositories configured without `git:` only', () => {
    expect(deploysThroughGitHub(config(), REPO)).toBe(true);
    const withGit = config();
    withGit.repositories[REPO]!.git = 'https://git.example/acme/shop.git';
    expect(deploysThroughGitHub(withGit, REPO)).toBe(false);
    expect(deploysThroughGitHub(config(), 'acme/other')).toBe(false);
  });

  it('creates a GitHub Deployment with the installation and starts its rollout, fetched from GitHub with a token', async () => {
    const dep = await deployThroughGitHub(deps, { repository: REPO, ref: 'main', environment: 'staging' }, 'api');
    expect(dep).toMatchObject({ state: 'queued', sha: SHA, environment: 'staging', github: { installationId: 7, deploymentId: 901, cloneUrl: 'https://github.com/acme/shop.git' } });
    const created = requests.find((r) => r.method === 'POST' && r.path.endsWith('/deployments'))!;
    expect(created.body).toMatchObject({ ref: SHA, environment: 'staging', auto_merge: false, required_contexts: [], payload: { bitenvoy: { rollout: dep.id, trigger: 'api' } } });
    expect((await engine.nextJob('ag_1'))?.git).toEqual({ url: 'https://github.com/acme/shop.git' });
    expect(problems).toEqual([]);
  });

  it('makes a rollback (`bitenvoy rollback`) a GitHub Deployment too, marked as one and not held by the promotion order', async () => {
    // A deploy to production waits for staging; a rollback brings back what was live there, so it does not.
    const err = await refusal(deployThroughGitHub(deps, { repository: REPO, ref: 'main', environment: 'production' }, 'api'));
    expect(err.message).toMatch(/takes only commits live on `staging` first/);
    const dep = await deployThroughGitHub(deps, { repository: REPO, ref: 'main', environment: 'production' }, 'api', { rollbackOf: 'dep_000000000001', description: 'BitEnvoy: rollback through the admin API' });
    expect(dep).toMatchObject({ state: 'queued', sha: SHA, environment: 'production', rollbackOf: 'dep_000000000001', trigger: 'rollback', github: { deploymentId: 901 } });
    const created = requests.find((r) => r.method === 'POST' && r.path.endsWith('/deployments'))!;
    expect(created.body).toMatchObject({ ref: SHA, environment: 'production', description: 'BitEnvoy: rollback through the admin API', payload: { bitenvoy: { rollout: (dep as { id: string }).id, trigger: 'rollback' } } });
    expect(problems).toEqual([]);
  });

  it('makes a retry of failed servers a GitHub Deployment that goes to those servers only, kept by the hub and not in the payload', async () => {
    const other: AgentRecord = { id: 'ag_2', name: 'web-2', labels: { role: 'web' }, version: 't', credentialHash: 'y', enrolledAt: new Date().toISOString(), lastSeenAt: new Date().toISOString() };
    await store.set(keys.agent(other.id), other);
    const dep = await deployThroughGitHub(deps, { repository: REPO, ref: 'main', environment: 'staging' }, 'octocat', { onlyAgents: ['ag_2'], trigger: 'dashboard', description: 'BitEnvoy: retry of dep_1 on 1 failed server, by octocat' });
    expect(dep).toMatchObject({ state: 'queued', sha: SHA, trigger: 'dashboard', github: { deploymentId: 901 } });
    expect((dep as { batches: Array<{ agentIds: string[] }> }).batches.flatMap((b) => b.agentIds)).toEqual(['ag_2']);
    const created = requests.find((r) => r.method === 'POST' && r.path.endsWith('/deployments'))!;
    expect(created.body).toMatchObject({ description: 'BitEnvoy: retry of dep_1 on 1 failed server, by octocat', payload: { bitenvoy: { rollout: (dep as { id: string }).id, trigger: 'dashboard' } } });
    expect(JSON.stringify(created.body)).not.toContain('ag_2');
    expect(await engine.nextJob('ag_1')).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it('refuses a locked environment with 409 before anything is created on GitHub', async () => {
    await takeLock(store, { repository: REPO, environment: 'staging', by: 'octocat', at: '2026-12-05T10:00:00.000Z' });
    const err = await refusal(deployThroughGitHub(deps, { repository: REPO, ref: 'main', environment: 'staging' }, 'api'));
    expect([err.code, err.status]).toEqual(['BE_GUARD_RAIL', 409]);
    expect(requests.some((r) => r.method === 'POST')).toBe(false);
  });

  it('answers with the rollout when the deployment.created webhook got there first (it claims the deployment, the call finds it still being planned)', async () => {
    // GitHub delivers deployment.created as soon as the deployment exists: the webhook can claim it while the
    // hub's own call is still on its way, and still be planning the rollout when that call looks for it.
    let webhook: Promise<unknown> | undefined;
    const webhookFirst = createDeploymentKind({
      store,
      startDeployment: async (payload, options) => {
        webhook = startDeployment(payload);
        return startDeployment(payload, options);
      },
    });
    const outboxes = new GitHubOutbox({ store, octokitFor: (id) => probot.auth(id), log: silentLogger(), kinds: { [CREATE_DEPLOYMENT_EFFECT]: webhookFirst } });
    const answer = await deployThroughGitHub({ ...deps, outbox: outboxes }, { repository: REPO, ref: 'main', environment: 'staging' }, 'api').catch((err: unknown) => err);
    outboxes.close();
    expect(await webhook).toBe('started');
    expect(answer).toMatchObject({ sha: SHA, environment: 'staging', github: { deploymentId: 901 } });
  });

  it('says what to do when the App is not installed on the repository', async () => {
    installed = false;
    const err = await refusal(deployThroughGitHub(deps, { repository: REPO, ref: 'main', environment: 'staging' }, 'api'));
    expect(err.message).toBe('the GitHub App is not installed on acme/shop (or the repository does not exist): install the App on it, or add `git:` to its config file to deploy from another git host');
  });
});
