/**
 * The rollout engine on a real SQLite store with a fake clock: batches in order, failures stop the rollout, leases
 * expire, a restart continues where it was, and concurrent reports never create a batch twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys, type AgentRecord } from '../../app/model.js';
import { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import type { LoadedConfig } from '../../config-schema/validate-config-dir.js';
import { BUILT_IN_STRATEGIES } from '../../config-schema/validate-config-dir.js';
import { silentLogger } from '../../lib/logger.js';
import type { JobEvent } from '../../lib/protocol.js';
import { renderDeploymentPage } from '../helpers/render-page.js';

const SHA = 'a'.repeat(40);
const settings = { leaseSeconds: 60, heartbeatSeconds: 60, pollWaitSeconds: 50, publicUrl: 'http://hub.test' };

function configWith(strategy: string): LoadedConfig & { sha: string } {
  return {
    sha: 'c'.repeat(40),
    groups: { web: { selector: { matchLabels: { role: 'web' } } } },
    strategies: BUILT_IN_STRATEGIES,
    repositories: {
      'acme/shop': { name: 'acme/shop', file: 'repositories/acme/shop.yml', git: 'https://git.test/acme/shop.git', instructions: 'bitenvoy.yml', environments: { staging: { branch: 'main', group: 'web', strategy } } },
    },
  };
}

let dir: string;
let store: Store;
let now: number;
let strategy: string;
const engines: RolloutEngine[] = [];

function newEngine(): RolloutEngine {
  const engine = new RolloutEngine({ store, log: silentLogger(), settings, config: () => configWith(strategy), now: () => now, resolveRef: async () => SHA });
  engines.push(engine);
  return engine;
}

async function addAgent(id: string, name: string, labels = { role: 'web' }, lastSeen = now): Promise<void> {
  const agent: AgentRecord = { id, name, labels, version: 't', credentialHash: id, enrolledAt: new Date(lastSeen).toISOString(), lastSeenAt: new Date(lastSeen).toISOString() };
  await store.set(keys.agent(id), agent);
}

const state = (seq: number, s: 'running' | 'succeeded' | 'failed', message?: string): JobEvent => ({ seq, at: new Date(now).toISOString(), type: 'state', state: s, ...(message ? { message } : {}) });

/** Plays an agent: takes its next job, claims it and reports the final state. */
async function agentRuns(engine: RolloutEngine, agentId: string, outcome: 'succeeded' | 'failed' = 'succeeded'): Promise<string> {
  const job = await engine.nextJob(agentId);
  if (!job) throw new Error(`no job for ${agentId}`);
  await engine.claimJob(agentId, job.id, `cl_${agentId}`);
  await engine.appendEvents(agentId, job.id, `cl_${agentId}`, [state(1, 'running'), state(2, outcome, outcome === 'failed' ? 'step migrate exited with code 3' : undefined)]);
  return job.id;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-engine-'));
  store = await openStore({ dataDir: dir });
  now = Date.parse('2026-11-25T10:00:00Z');
  strategy = 'all-at-once';
});
afterEach(async () => {
  for (const e of engines.splice(0)) e.stop();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('RolloutEngine', () => {
  it('runs one-at-a-time batches in name order, each only after the previous succeeded', async () => {
    strategy = 'one-at-a-time';
    await addAgent('ag_b', 'web-2');
    await addAgent('ag_a', 'web-1');
    const engine = newEngine();
    const dep = await engine.createDeployment({ repository: 'acme/shop', ref: 'main', environment: 'staging' }, 'test');
    expect(dep.state).toBe('queued');
    expect(dep.batches.map((b) => b.agentIds)).toEqual([['ag_a'], ['ag_b']]);
    expect(await engine.nextJob('ag_b')).toBeUndefined();
    await agentRuns(engine, 'ag_a');
    expect((await engine.getDeploymentView(dep.id))!.deployment.description).toBe('1/2 servers · batch 2/2');
    await agentRuns(engine, 'ag_b');
    const view = (await engine.getDeploymentView(dep.id))!;
    expect(view.deployment.state).toBe('success');
    expect(view.deployment.description).toBe('2/2 servers succeeded');
  });

  it('stops at the first failure and names the server and the step', async () => {
    strategy = 'one-at-a-time';
    await addAgent('ag_a', 'web-1');
    await addAgent('ag_b', 'web-2');
    const engine = newEngine();
    const dep = await engine.createDeployment({ repository: 'acme/shop', ref: 'main', environment: 'staging' }, 'test');
    await agentRuns(engine, 'ag_a', 'failed');
    const view = (await engine.getDeploymentView(dep.id))!;
    expect(view.deployment.state).toBe('failure');
    expect(view.deployment.description).toBe('web-1: step migrate exited with code 3');
    expect(await engine.nextJob('ag_b')).toBeUndefined();
  });

  it('creates an error deployment, with the reason, when no agent is there to run it', async () => {
    await addAgent('ag_db', 'db-1', { role: 'db' });
    await addAgent('ag_old', 'web-9', { role: 'web' }, now - 3600_000);
    const dep = await newEngine().createDeployment({ repository: 'acme/shop', ref: 'main', environment: 'staging' }, 'test');
    expect(dep.state).toBe('error');
    expect(dep.description).toBe('no agents in group web: 1 of 2 enrolled agents match role=web, 1 of them lost');
  });

  it('fails a job whose lease runs out, and the deployment with it', async () => {
    await addAgent('ag_a', 'web-1');
    const engine = newEngine();
    const dep = await engine.createDeployment({ repository: 'acme/shop', ref: 'main', environment: 'staging' }, 'test');
    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_1');
    now += 59_000;
    await engine.renewLease('ag_a', job.id, 'cl_1');
    now += 61_000;
    await engine.checkLeases();
    const view = (await engine.getDeploymentView(dep.id))!;
    expect(view.jobs[0]!.message).toBe('web-1 stopped renewing its lease: agent lost or disconnected');
    expect(view.deployment.state).toBe('failure');
    await expect(engine.renewLease('ag_a', job.id, 'cl_1')).rejects.toThrow(/already ended \(failed/);
  });

  it('continues after a restart: a new engine on the same store advances and gives leases a grace period', async () => {
    strategy = 'one-at-a-time';
    await addAgent('ag_a', 'web-1');
    await addAgent('ag_b', 'web-2');
    const first = newEngine();
    const dep = await first.createDeployment({ repository: 'acme/shop', ref: 'main', environment: 'staging' }, 'test');
    const job = (await first.nextJob('ag_a'))!;
    await first.claimJob('ag_a', job.id, 'cl_1');
    first.stop();
    // The hub was down for 5 minutes; the agent finished meanwhile and reports once the new hub is up.
    now += 300_000;
    await addAgent('ag_a', 'web-1');
    await addAgent('ag_b', 'web-2');
    const second = newEngine();
    await second.start();
    await second.checkLeases();
    await second.appendEvents('ag_a', job.id, 'cl_1', [state(1, 'running'), state(2, 'succeeded')]);
    await agentRuns(second, 'ag_b');
    expect((await second.getDeploymentView(dep.id))!.deployment.state).toBe('success');
  });

  it('never creates a batch twice when reports arrive at once', async () => {
    strategy = 'one-at-a-time';
    await addAgent('ag_a', 'web-1');
    await addAgent('ag_b', 'web-2');
    const engine = newEngine();
    const dep = await engine.createDeployment({ repository: 'acme/shop', ref: 'main', environment: 'staging' }, 'test');
    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_1');
    await Promise.all([
      engine.appendEvents('ag_a', job.id, 'cl_1', [state(1, 'running'), state(2, 'succeeded')]),
      engine.appendEvents('ag_a', job.id, 'cl_1', [state(1, 'running'), state(2, 'succeeded')]),
      engine.advance(dep.id),
      engine.advance(dep.id),
    ]);
    const queue = await store.get<string[]>(keys.agentQueue('ag_b'));
    expect(queue).toHaveLength(1);
    expect((await engine.getDeploymentView(dep.id))!.jobs).toHaveLength(2);
  });

  it('renders the status page with every user-controlled string escaped', async () => {
    await addAgent('ag_a', 'web-1');
    const engine = newEngine();
    const dep = await engine.createDeployment({ repository: 'acme/shop', ref: 'main', environment: 'staging' }, 'test');
    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_1');
    await engine.appendLogs('ag_a', job.id, 'cl_1', [{ seq: 1, at: new Date(now).toISOString(), stream: 'stdout', data: '<script>alert(1)</script>\nbuilt ok\n' }]);
    const html = await renderDeploymentPage(engine, dep.id);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('built ok');
    expect(html).toContain('web-1');
    expect(await renderDeploymentPage(engine, 'dep_missing')).toContain('No deployment dep_missing');
  });
});
