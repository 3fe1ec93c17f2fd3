/**
 * Deploy when CI passes: `push`, `check_suite`, `check_run` and `status` events driven through `probot.receive`
 * with GitHub's own example payloads, GitHub answered by nock, every request checked against GitHub's REST
 * description (github.com and GHES).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import type { Probot } from 'probot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listAudit } from '../../app/audit/audit-log.js';
import { releaseLock, takeLock } from '../../app/rollout/environment-locks.js';
import { createAppFn } from '../../app/github/app.js';
import { AutoDeployer } from '../../app/github/auto-deploy.js';
import type { GitHubOutbox } from '../../app/github/github-outbox.js';
import type { GitHubStatusReporter } from '../../app/github/status-reporter.js';
import { keys, type AgentRecord, type DeploymentRecord } from '../../app/model.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import { BUILT_IN_STRATEGIES, type LoadedConfig } from '../../config-schema/validate-config-dir.js';
import type { Environment } from '../../config-schema/types.generated.js';
import { createLogger, silentLogger } from '../../lib/logger.js';
import { createGitHubAppRig } from '../helpers/github-app-rig.js';
import { loadGitHubContract, type GitHubContract } from '../../testbed/github-contract.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- GitHub's example JSON
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{ name: string; examples: Json[] }>;
const example = (name: string, match: (e: Json) => boolean = () => true) => structuredClone(examples.find((e) => e.name === name)!.examples.find(match)!);

const REPO = 'Codertocat/Hello-World';
const SHA = 'a'.repeat(40);
const installation = { id: 1, node_id: 'MDIz' };

let dir: string;
let store: Store;
let engine: RolloutEngine;
let reporter: GitHubStatusReporter;
let auto: AutoDeployer;
let probot: Probot;
let outbox: GitHubOutbox;
let env: Environment;
let extraEnvironments: Record<string, Environment>;
let head: string;
let checkRuns: Json[];
let commitStatuses: Json[];
let created: Json[];
let statuses: Json[];
let problems: string[];

const config = (): LoadedConfig & { sha: string } => ({
  sha: 'c'.repeat(40),
  groups: { web: { selector: { matchLabels: { role: 'web' } } } },
  strategies: BUILT_IN_STRATEGIES,
  repositories: { [REPO]: { name: REPO, file: `repositories/${REPO}.yml`, instructions: 'bitenvoy.yml', environments: { ...extraEnvironments, production: env } } },
});

function run(name: string, conclusion: string | null, at: string, id = checkRuns.length + 1): Json {
  return { id, name, status: conclusion ? 'completed' : 'in_progress', conclusion, started_at: at, completed_at: conclusion ? at : null };
}

/**
 * Answers GitHub's side from the state above, checking every request against both REST descriptions. (nock's
 * matchers see each request's path, query and body; the replies are built from what they saw.)
 */
function answerGitHub(contracts: GitHubContract[]): void {
  const check = (method: string, path: string, body?: unknown) => problems.push(...contracts.flatMap((c) => c.problems(method, path, body)));
  const page = (all: Json[], query: Json) => all.slice((Number(query.page) - 1) * Number(query.per_page), Number(query.page) * Number(query.per_page));
  let query: Json = {};
  let body: Json = {};
  let path = '';
  const seeQuery = (route: string) => (q: Json) => {
    check('GET', route);
    query = q;
    return true;
  };
  nock('https://api.github.com')
    .persist()
    .post('/app/installations/1/access_tokens')
    .reply(201, () => ({ token: 'ghs_test', expires_at: new Date(Date.now() + 3600_000).toISOString() }))
    .get(`/repos/${REPO}/branches/master`)
    .reply(200, () => (check('GET', `/repos/${REPO}/branches/master`), { name: 'master', commit: { sha: head } }))
    .get(`/repos/${REPO}/commits/${SHA}/check-runs`)
    .query(seeQuery(`/repos/${REPO}/commits/${SHA}/check-runs`))
    .reply(200, () => {
      expect(query).toMatchObject({ filter: 'all', per_page: '100' });
      return { total_count: checkRuns.length, check_runs: page(checkRuns, query) };
    })
    .get(`/repos/${REPO}/commits/${SHA}/status`)
    .query(seeQuery(`/repos/${REPO}/commits/${SHA}/status`))
    .reply(200, () => ({ state: 'pending', total_count: commitStatuses.length, statuses: page(commitStatuses, query) }))
    .post(`/repos/${REPO}/deployments`, (b: Json) => ((body = b), true))
    .reply(201, () => {
      check('POST', `/repos/${REPO}/deployments`, body);
      created.push(body);
      return { id: 700 + created.length, sha: body.ref, ref: body.ref, environment: body.environment, payload: body.payload, creator: { login: 'bitenvoy[bot]' } };
    })
    .post((p: string) => ((path = p), /^\/repos\/Codertocat\/Hello-World\/deployments\/\d+\/statuses$/.test(p)), (b: Json) => ((body = b), true))
    .reply(201, () => {
      check('POST', path, body);
      statuses.push({ deployment: Number(path.split('/')[5]), ...body });
      return {};
    });
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-auto-'));
  store = await openStore({ dataDir: dir });
  env = { branch: 'master', group: 'web', auto: true, requiredChecks: 'all', checksTimeout: '1h' };
  extraEnvironments = {};
  head = SHA;
  checkRuns = [];
  commitStatuses = [];
  created = [];
  statuses = [];
  problems = [];
  ({ probot, reporter, engine, outbox } = createGitHubAppRig(store, config));
  auto = new AutoDeployer({
    store,
    configs: { current: () => config() },
    octokitFor: (id) => probot.auth(id),
    outbox,
    log: process.env.DEBUG_AUTO ? createLogger({ name: 'auto', level: 'debug' }) : silentLogger(),
    debounceMs: 0,
    publicUrl: () => 'https://hub.example',
  });
  await probot.load(createAppFn({ engine, store, reporter, auto }));
  const agent: AgentRecord = { id: 'ag_1', name: 'web-1', labels: { role: 'web' }, version: 't', credentialHash: 'x', enrolledAt: new Date().toISOString(), lastSeenAt: new Date().toISOString() };
  await store.set(keys.agent(agent.id), agent);
  answerGitHub(await Promise.all([loadGitHubContract('api.github.com'), loadGitHubContract('ghes-3.19')]));
});

afterEach(async () => {
  auto.stop();
  await outbox.idle();
  outbox.close();
  await reporter.idle();
  engine.stop();
  nock.cleanAll();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function receive(name: string, payload: Json, id = `${name}-${Math.random()}`): Promise<void> {
  await probot.receive({ id, name, payload: { ...payload, installation } } as never);
  await auto.idle();
  await reporter.idle();
}

const push = () => ({ ...example('push', (e) => e.ref === 'refs/heads/master'), after: SHA });
const suiteCompleted = () => {
  const p = example('check_suite', (e) => e.action === 'completed');
  return { ...p, check_suite: { ...p.check_suite, head_sha: SHA, head_branch: 'master' } };
};
const statusEvent = (context: string, state: string) => ({ ...example('status'), sha: SHA, context, state, branches: [{ name: 'master', commit: { sha: SHA, url: '' }, protected: false }] });

describe('deploy when CI passes', () => {
  it('reads every page of check runs and statuses, then creates one GitHub Deployment for the rollout it starts', async () => {
    const at = '2026-11-25T10:00:00Z';
    // At the push, CI has only started: nothing to deploy yet.
    checkRuns = Array.from({ length: 230 }, (_, i) => run(`check-${i}`, i % 3 ? 'success' : null, at, i + 1));
    await receive('push', push());
    expect(created).toEqual([]);
    checkRuns = Array.from({ length: 230 }, (_, i) => run(`check-${i}`, i % 3 ? 'success' : 'neutral', at, i + 1));
    commitStatuses = Array.from({ length: 130 }, (_, i) => ({ id: i + 1, context: `ci/${i}`, state: 'success', updated_at: at }));
    await receive('check_suite', suiteCompleted(), 'suite-1');

    expect(problems).toEqual([]);
    expect(created).toHaveLength(1);
    const [body] = created;
    expect(body).toMatchObject({ ref: SHA, environment: 'production', auto_merge: false, required_contexts: [], production_environment: true, transient_environment: false, task: 'deploy' });
    expect(body!.description).toBe('BitEnvoy: all 360 checks passed on master');
    const rollouts = await engine.listDeployments();
    expect(rollouts).toHaveLength(1);
    expect(body!.payload).toEqual({ bitenvoy: { rollout: rollouts[0]!.id, trigger: 'auto', url: `https://hub.example/deployments/${rollouts[0]!.id}` } });
    expect(rollouts[0]).toMatchObject({ sha: SHA, environment: 'production', github: { deploymentId: 701 } });
    expect(statuses.map((s) => s.state)).toEqual(['queued']);

    // The same events again, and GitHub's own deployment.created for it: nothing new.
    await receive('check_suite', suiteCompleted(), 'suite-1');
    await receive('deployment', { ...example('deployment'), deployment: { ...example('deployment').deployment, id: 701, sha: SHA, environment: 'production', payload: body!.payload } });
    expect(created).toHaveLength(1);
    expect(await engine.listDeployments()).toHaveLength(1);
  });

  it('counts the newest run of each check: a failure re-run to success deploys', async () => {
    checkRuns = [run('test', 'failure', '2026-11-25T10:00:00Z', 1), run('test', 'success', '2026-11-25T10:05:00Z', 2)];
    await receive('push', push());
    expect(created).toHaveLength(1);
  });

  it.each([
    ['a required check failed', () => (checkRuns = [run('test', 'success', '2026-11-25T10:00:00Z'), run('lint', 'timed_out', '2026-11-25T10:00:00Z')])],
    ['a required check is still running', () => (checkRuns = [run('test', null, '2026-11-25T10:00:00Z')])],
    ['nothing has reported yet', () => (checkRuns = [])],
    ['the commit is no longer the head of the branch', () => ((checkRuns = [run('test', 'success', '2026-11-25T10:00:00Z')]), (head = 'b'.repeat(40)))],
    ['the environment does not deploy automatically', () => ((checkRuns = [run('test', 'success', '2026-11-25T10:00:00Z')]), (env = { ...env, auto: false }))],
    ['the environment follows another branch', () => ((checkRuns = [run('test', 'success', '2026-11-25T10:00:00Z')]), (env = { ...env, branch: 'release' }))],
  ])('deploys nothing when %s', async (_what, arrange) => {
    arrange();
    await receive('push', push());
    await receive('check_suite', suiteCompleted());
    expect(created).toEqual([]);
    expect(await engine.listDeployments()).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('waits for the named required checks only, and deploys on the status event that completes them', async () => {
    env = { ...env, requiredChecks: ['ci/jenkins'] };
    checkRuns = [run('flaky-optional', 'failure', '2026-11-25T10:00:00Z')];
    commitStatuses = [{ id: 1, context: 'ci/jenkins', state: 'pending', updated_at: '2026-11-25T10:00:00Z' }];
    await receive('status', statusEvent('ci/jenkins', 'pending'));
    expect(created).toEqual([]);
    commitStatuses = [{ id: 2, context: 'ci/jenkins', state: 'success', updated_at: '2026-11-25T10:01:00Z' }];
    await receive('status', statusEvent('ci/jenkins', 'success'));
    expect(created).toHaveLength(1);
    expect(created[0]!.description).toBe('BitEnvoy: all 1 required checks passed on master');
    expect(problems).toEqual([]);
  });

  it('gives up on checks that never report with an error deployment that names them', async () => {
    env = { ...env, requiredChecks: ['test', 'e2e'], checksTimeout: '1s' };
    checkRuns = [run('test', 'success', '2026-11-25T10:00:00Z')];
    await receive('push', push());
    expect(created).toEqual([]);
    await new Promise((r) => setTimeout(r, 1200));
    await auto.idle();
    await reporter.idle();
    expect(created).toHaveLength(1);
    expect(statuses.map((s) => s.state)).toEqual(['error']);
    expect(statuses[0]!.description).toBe('waiting for checks: e2e — required checks did not report within 1s');
    const [rollout] = await engine.listDeployments();
    expect(rollout).toMatchObject({ state: 'error', sha: SHA });
    expect(await engine.nextJob('ag_1')).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it('holds an auto-deploy back while the environment is locked, and records why', async () => {
    await takeLock(store, { repository: REPO, environment: 'production', by: 'octocat', reason: 'db migration', at: '2026-11-25T10:00:00.000Z' });
    checkRuns = [run('test', 'success', '2026-11-25T10:00:00Z')];
    await receive('push', push());
    expect(created).toEqual([]);
    expect(await listAudit(store)).toMatchObject([
      { actor: 'auto', action: 'auto-deploy', environment: 'production', sha: SHA, outcome: 'skipped', detail: expect.stringContaining('`production` is locked by @octocat since 2026-11-25 10:00 UTC: db migration') },
    ]);
  });

  it('deploys the branch head once the lock that held it back is released with /unlock', async () => {
    await takeLock(store, { repository: REPO, environment: 'production', by: 'octocat', reason: 'db migration', at: '2026-11-25T10:00:00.000Z' });
    checkRuns = [run('test', 'success', '2026-11-25T10:00:00Z')];
    await receive('push', push());
    expect(created).toEqual([]);
    await releaseLock(store, REPO, 'production');
    expect(await auto.onUnlock(REPO, 'production')).toEqual(['production']);
    await auto.idle();
    await reporter.idle();
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ ref: SHA, environment: 'production' });
    expect(problems).toEqual([]);
    // Held back once, deployed once: a second unlock does nothing.
    expect(await auto.onUnlock(REPO, 'production')).toEqual([]);
    expect(created).toHaveLength(1);
  });

  it('keeps what a lock held back when looking at the branch after /unlock fails (GitHub answered 502): the next try deploys it', async () => {
    await takeLock(store, { repository: REPO, environment: 'production', by: 'octocat', reason: 'db migration', at: '2026-11-25T10:00:00.000Z' });
    checkRuns = [run('test', 'success', '2026-11-25T10:00:00Z')];
    await receive('push', push());
    await releaseLock(store, REPO, 'production');
    let down = true;
    const flaky = new AutoDeployer({
      store,
      configs: { current: () => config() },
      octokitFor: async (id) => {
        if (down) throw Object.assign(new Error('Bad Gateway'), { status: 502 });
        return probot.auth(id);
      },
      outbox,
      log: silentLogger(),
      debounceMs: 0,
      publicUrl: () => 'https://hub.example',
    });
    try {
      await expect(flaky.onUnlock(REPO, 'production')).rejects.toThrow('Bad Gateway');
      down = false;
      expect(await flaky.onUnlock(REPO, 'production')).toEqual(['production']);
      await flaky.idle();
      await reporter.idle();
      expect(created).toHaveLength(1);
      expect(created[0]).toMatchObject({ ref: SHA, environment: 'production' });
    } finally {
      flaky.stop();
    }
  });

  it('holds an automatic deploy back for the promotion order, and deploys it once the commit is live on the environment before', async () => {
    env = { ...env, after: 'staging' };
    extraEnvironments = { staging: { branch: 'master', group: 'web' } };
    checkRuns = [run('test', 'success', '2026-11-25T10:00:00Z')];
    await receive('push', push());
    // Production comes after staging, which does not run the commit yet: no GitHub deployment that could only fail.
    expect(created).toEqual([]);
    expect((await listAudit(store)).at(-1)).toMatchObject({ action: 'auto-deploy', environment: 'production', outcome: 'skipped', detail: expect.stringContaining('`production` takes only commits live on `staging` first') });
    await store.set(keys.deployment('dep_staged'), { id: 'dep_staged', repository: REPO, environment: 'staging', sha: SHA, state: 'success', createdAt: '2026-11-25T10:00:00.000Z', finishedAt: '2026-11-25T10:05:00.000Z' } as DeploymentRecord);
    await auto.onLive(REPO, 'staging');
    await new Promise((r) => setTimeout(r, 100));
    await auto.idle();
    await reporter.idle();
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ ref: SHA, environment: 'production' });
    expect(problems).toEqual([]);
  });

  it('deploys the branch head when the lock runs out by itself (lockTimeout)', async () => {
    await takeLock(store, { repository: REPO, environment: 'production', by: 'octocat', at: new Date().toISOString(), expiresAt: new Date(Date.now() + 600).toISOString() });
    checkRuns = [run('test', 'success', '2026-11-25T10:00:00Z')];
    await receive('push', push());
    expect(created).toEqual([]);
    await new Promise((r) => setTimeout(r, 800));
    await auto.idle();
    await reporter.idle();
    expect(created).toHaveLength(1);
  });

  it('picks up where it was after a restart: an undecided commit is evaluated again', async () => {
    checkRuns = [run('test', null, '2026-11-25T10:00:00Z')];
    await receive('push', push());
    auto.stop();
    checkRuns = [run('test', 'success', '2026-11-25T10:01:00Z')];
    const restarted = new AutoDeployer({
      store,
      configs: { current: () => config() },
      octokitFor: (id) => probot.auth(id),
      outbox,
      log: silentLogger(),
      debounceMs: 0,
      publicUrl: () => 'https://hub.example',
    });
    await restarted.start();
    await restarted.idle();
    restarted.stop();
    expect(created).toHaveLength(1);
  });
});
