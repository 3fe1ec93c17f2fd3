/**
 * Deploy when CI passes, with several hub replicas on one store: each "replica" is its own store connection, Probot,
 * rollout engine, GitHub outbox, leader lease and AutoDeployer, as a hub process has. The replica that got a commit's
 * webhooks dies before its debounce fires → the leader after it deploys the commit (or gives it its `error`
 * deployment once `checksTimeout` passes); two replicas evaluating one commit at once → one GitHub Deployment. GitHub
 * is nock, every request checked against GitHub's REST description.
 */
import { createRequire } from 'node:module';
import nock from 'nock';
import type { Probot } from 'probot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAppFn } from '../../app/github/app.js';
import { AutoDeployer } from '../../app/github/auto-deploy.js';
import type { GitHubOutbox } from '../../app/github/github-outbox.js';
import type { GitHubStatusReporter } from '../../app/github/status-reporter.js';
import { keys, type AgentRecord } from '../../app/model.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { LeaderLease } from '../../app/store/leader-lease.js';
import { openStore } from '../../app/store/open-store.js';
import type { SqlStore } from '../../app/store/sql-store.js';
import { BUILT_IN_STRATEGIES, type LoadedConfig } from '../../config-schema/validate-config-dir.js';
import type { Environment } from '../../config-schema/types.generated.js';
import { silentLogger } from '../../lib/logger.js';
import { loadGitHubContract, type GitHubContract } from '../../testbed/github-contract.js';
import { createGitHubAppRig } from '../helpers/github-app-rig.js';
import { STORE_BACKENDS, useStoreBackend, type StoreBackendHandle } from '../helpers/store-backends.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- GitHub's example JSON
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{ name: string; examples: Json[] }>;
const example = (name: string, match: (e: Json) => boolean = () => true) => structuredClone(examples.find((e) => e.name === name)!.examples.find(match)!);

const REPO = 'Codertocat/Hello-World';
const SHA = 'a'.repeat(40);
const installation = { id: 1, node_id: 'MDIz' };
const LEASE_MS = 1500;

let env: Environment;
let checkRuns: Json[];
let created: Json[];
let statuses: Json[];
let problems: string[];
/** How long GitHub takes to list a commit's check runs: long enough for two evaluations to overlap. */
let listingDelayMs: number;
/** How many times a replica read the commit's check runs: once per evaluation. */
let listings: number;

const config = (): LoadedConfig & { sha: string } => ({
  sha: 'c'.repeat(40),
  groups: { web: { selector: { matchLabels: { role: 'web' } } } },
  strategies: BUILT_IN_STRATEGIES,
  repositories: { [REPO]: { name: REPO, file: `repositories/${REPO}.yml`, instructions: 'bitenvoy.yml', environments: { production: env } } },
});

/** GitHub's side, shared by every replica (one process, one nock), each request checked against both REST descriptions. */
function answerGitHub(contracts: GitHubContract[]): void {
  const check = (method: string, path: string, body?: unknown) => problems.push(...contracts.flatMap((c) => c.problems(method, path, body)));
  let body: Json = {};
  let path = '';
  nock('https://api.github.com')
    .persist()
    .post('/app/installations/1/access_tokens')
    .reply(201, () => ({ token: 'ghs_test', expires_at: new Date(Date.now() + 3600_000).toISOString() }))
    .get(`/repos/${REPO}/branches/master`)
    .reply(200, () => (check('GET', `/repos/${REPO}/branches/master`), { name: 'master', commit: { sha: SHA } }))
    .get(`/repos/${REPO}/commits/${SHA}/check-runs`)
    .query(() => (check('GET', `/repos/${REPO}/commits/${SHA}/check-runs`), true))
    .reply(200, async () => {
      listings += 1;
      await new Promise((r) => setTimeout(r, listingDelayMs));
      return { total_count: checkRuns.length, check_runs: checkRuns };
    })
    .get(`/repos/${REPO}/commits/${SHA}/status`)
    .query(() => (check('GET', `/repos/${REPO}/commits/${SHA}/status`), true))
    .reply(200, () => ({ state: 'pending', total_count: 0, statuses: [] }))
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

interface Replica {
  store: SqlStore;
  probot: Probot;
  engine: RolloutEngine;
  reporter: GitHubStatusReporter;
  outbox: GitHubOutbox;
  lease: LeaderLease;
  auto: AutoDeployer;
  /** The process dies: its timers stop and its connections go; it releases nothing (no lease, no claim). */
  die(): Promise<void>;
  close(): Promise<void>;
}

const replicas: Replica[] = [];

async function startReplica(stores: StoreBackendHandle, o: { debounceMs: number; claimMs?: number }): Promise<Replica> {
  const store = await openStore(stores.options);
  const { probot, engine, reporter, outbox } = createGitHubAppRig(store, config);
  const lease = new LeaderLease({ store, leaseMs: LEASE_MS, log: silentLogger() });
  const auto = new AutoDeployer({
    store,
    configs: { current: () => config() },
    octokitFor: (id) => probot.auth(id),
    outbox,
    log: silentLogger(),
    debounceMs: o.debounceMs,
    publicUrl: () => 'https://hub.example',
    sweepMs: 200,
    ...(o.claimMs ? { claimMs: o.claimMs } : {}),
  });
  await probot.load(createAppFn({ engine, store, reporter, auto }));
  await lease.start();
  await auto.start({ leading: () => lease.leading, afterOutage: false });
  let closed = false;
  const stop = async (release: boolean) => {
    if (closed) return;
    closed = true;
    auto.stop();
    engine.stop();
    outbox.close();
    reporter.close();
    if (release) await lease.stop();
    await store.close();
  };
  const replica: Replica = { store, probot, engine, reporter, outbox, lease, auto, die: () => stop(false), close: () => stop(true) };
  replicas.push(replica);
  return replica;
}

async function receive(replica: Replica, name: string, payload: Json): Promise<void> {
  await replica.probot.receive({ id: `${name}-${Math.random()}`, name, payload: { ...payload, installation } } as never);
}

async function waitFor(what: string, ok: () => boolean, withinMs: number): Promise<void> {
  const until = Date.now() + withinMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`still waiting after ${withinMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const push = () => ({ ...example('push', (e) => e.ref === 'refs/heads/master'), after: SHA });
const suiteCompleted = () => {
  const p = example('check_suite', (e) => e.action === 'completed');
  return { ...p, check_suite: { ...p.check_suite, head_sha: SHA, head_branch: 'master' } };
};
const run = (name: string, conclusion: string | null) => ({ id: 1, name, status: conclusion ? 'completed' : 'in_progress', conclusion, started_at: '2026-11-25T10:00:00Z', completed_at: conclusion ? '2026-11-25T10:00:00Z' : null });

beforeEach(async () => {
  env = { branch: 'master', group: 'web', auto: true, requiredChecks: 'all', checksTimeout: '1h' };
  checkRuns = [];
  created = [];
  statuses = [];
  problems = [];
  listingDelayMs = 0;
  listings = 0;
  answerGitHub(await Promise.all([loadGitHubContract('api.github.com'), loadGitHubContract('ghes-3.19')]));
});

afterEach(async () => {
  for (const replica of replicas.splice(0)) {
    await replica.auto.idle().catch(() => undefined);
    await replica.close();
  }
  nock.cleanAll();
});

const postgres = STORE_BACKENDS.find((b) => b.name === 'postgres')!;

describe('on postgres: the replica that got the webhooks dies before its debounce', () => {
  const stores = useStoreBackend(postgres);

  it('lets the next leader deploy the green commit, once', async () => {
    const a = await startReplica(stores, { debounceMs: 1500 });
    const b = await startReplica(stores, { debounceMs: 1500 });
    const agent: AgentRecord = { id: 'ag_1', name: 'web-1', labels: { role: 'web' }, version: 't', credentialHash: 'x', enrolledAt: new Date().toISOString(), lastSeenAt: new Date().toISOString() };
    await b.store.set(keys.agent(agent.id), agent);
    expect([a.lease.leading, b.lease.leading]).toEqual([true, false]);
    checkRuns = [run('test', 'success')];
    await receive(a, 'push', push());
    await receive(a, 'check_suite', suiteCompleted());
    await a.die();
    expect(created).toEqual([]);

    // b leads once a's lease runs out, then its sweep finds the commit due and claimed by nobody.
    await waitFor('a GitHub Deployment', () => created.length > 0, 10_000);
    expect(b.lease.leading).toBe(true);
    await b.auto.idle();
    await b.outbox.idle();
    await b.reporter.idle();
    // Some sweeps later: still one.
    await new Promise((r) => setTimeout(r, 1000));
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ ref: SHA, environment: 'production', description: 'BitEnvoy: all 1 checks passed on master' });
    expect(await b.engine.listDeployments()).toMatchObject([{ sha: SHA, environment: 'production', github: { deploymentId: 701 } }]);
    expect(statuses.map((s) => s.state)).toEqual(['queued']);
    expect(await b.store.list('auto-pending:')).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('gives the commit its error deployment from the next leader when checksTimeout passes while its replica is dead', async () => {
    env = { ...env, requiredChecks: ['test', 'e2e'], checksTimeout: '3s' };
    checkRuns = [run('test', 'success')];
    const a = await startReplica(stores, { debounceMs: 300 });
    const b = await startReplica(stores, { debounceMs: 300 });
    await receive(a, 'push', push());
    // a evaluates once (e2e has not reported: the commit waits for its deadline), then dies.
    await a.auto.idle();
    expect(created).toEqual([]);
    await a.die();

    await waitFor('the error deployment', () => created.length > 0, 12_000);
    await b.auto.idle();
    await b.outbox.idle();
    await waitFor('its error status', () => statuses.length > 0, 5000);
    await b.reporter.idle();
    expect(created).toHaveLength(1);
    expect(statuses.map((s) => s.state)).toEqual(['error']);
    expect(statuses[0]!.description).toBe('waiting for checks: e2e — required checks did not report within 3s');
    expect(await b.engine.listDeployments()).toMatchObject([{ state: 'error', sha: SHA }]);
    expect(problems).toEqual([]);
  });
});

describe.each(STORE_BACKENDS)('on $name: two replicas evaluate one commit at once', (backend) => {
  const stores = useStoreBackend(backend);

  it('creates one GitHub Deployment when both get the webhook (the evaluation claim)', async () => {
    const a = await startReplica(stores, { debounceMs: 0 });
    const b = await startReplica(stores, { debounceMs: 0 });
    checkRuns = [run('test', 'success')];
    listingDelayMs = 300;
    await Promise.all([receive(a, 'push', push()), receive(b, 'push', push())]);
    await Promise.all([a.auto.idle(), b.auto.idle()]);
    // b found a's claim and looks again each second until the commit is decided.
    await new Promise((r) => setTimeout(r, 1500));
    await Promise.all([a.auto.idle(), b.auto.idle(), a.outbox.idle(), b.outbox.idle()]);
    expect(created).toHaveLength(1);
    // One evaluation: the other replica never read the checks.
    expect(listings).toBe(1);
    expect(problems).toEqual([]);
  });

  it('creates one GitHub Deployment when a claim runs out mid-evaluation and both decide (the mark set by compare-and-set)', async () => {
    // A claim of 50 ms: the second replica takes the commit over while the first still reads its checks.
    const a = await startReplica(stores, { debounceMs: 0, claimMs: 50 });
    const b = await startReplica(stores, { debounceMs: 0, claimMs: 50 });
    checkRuns = [run('test', 'success')];
    listingDelayMs = 400;
    await Promise.all([receive(a, 'push', push()), receive(b, 'push', push())]);
    await new Promise((r) => setTimeout(r, 1500));
    await Promise.all([a.auto.idle(), b.auto.idle(), a.outbox.idle(), b.outbox.idle()]);
    // Both decided the commit is green: the mark let one of them ask for the deployment.
    expect(listings).toBe(2);
    expect(created).toHaveLength(1);
    expect(problems).toEqual([]);
  });
});
