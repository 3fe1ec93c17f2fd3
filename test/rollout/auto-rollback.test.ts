/**
 * `onFailure: rollback` on the real engine and store with a fake clock: the last good commit goes back to exactly
 * the servers that moved, as a new deployment without pauses, once — also when the hub stops in between.
 */
import { activeDeploymentIds } from '../../app/store/deployment-queries.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listAudit } from '../../app/audit/audit-log.js';
import { keys, type DeploymentRecord, type JobRecord } from '../../app/model.js';
import { movedAgents } from '../../app/rollout/auto-rollback.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { DEPLOY, openEngineFixture, SHA, stateEvent, type EngineFixture } from '../helpers/engine-fixture.js';

const GOOD = SHA;
const BAD = 'b'.repeat(40);

let f: EngineFixture;
let engine: RolloutEngine;
beforeEach(async () => {
  f = await openEngineFixture();
  for (const [id, name] of [['ag_a', 'web-1'], ['ag_b', 'web-2'], ['ag_c', 'web-3']] as const) await f.addAgent(id, name);
  // One server per batch, a pause between batches, and a rollback on failure.
  f.strategies = { careful: { type: 'rolling', batchSize: 1, pause: '1m', onFailure: 'rollback' } };
  f.strategy = 'careful';
  engine = f.engine();
});
afterEach(async () => {
  await f.close();
});

const record = async (id: string) => (await f.store.get<DeploymentRecord>(keys.deployment(id)))!;
const allDeployments = async () => (await f.store.list<DeploymentRecord>('deployment:')).map((e) => e.value);

/** Serves a pause: the clock moves on a minute, and the agents keep calling in meanwhile (they stay online). */
async function waitOutPause(): Promise<void> {
  f.now += 61_000;
  for (const [id, name] of [['ag_a', 'web-1'], ['ag_b', 'web-2'], ['ag_c', 'web-3']] as const) await f.addAgent(id, name);
  await engine.checkLeases();
}

/** Runs one server per batch, serving each pause, until the deployment ends. */
async function runThrough(dep: DeploymentRecord, outcomes: Record<string, 'succeeded' | 'failed'>): Promise<void> {
  for (const agentId of dep.batches.flatMap((b) => b.agentIds)) {
    if (['success', 'failure'].includes((await record(dep.id)).state)) return;
    await waitOutPause();
    await f.agentRuns(engine, agentId, outcomes[agentId] ?? 'succeeded', outcomes[agentId] === 'failed' ? 'step migrate exited with code 3' : undefined);
  }
}

async function shipGood(): Promise<DeploymentRecord> {
  f.sha = GOOD;
  const good = await engine.createDeployment(DEPLOY, 'test');
  await runThrough(good, {});
  expect(await record(good.id)).toMatchObject({ state: 'success' });
  return good;
}

describe('onFailure: rollback', () => {
  it('deploys the last good commit again, as a new deployment without pauses, to the servers that had moved', async () => {
    const good = await shipGood();
    f.sha = BAD;
    const bad = await engine.createDeployment(DEPLOY, 'test');
    await runThrough(bad, { ag_b: 'failed' });

    const failed = await record(bad.id);
    expect(failed.state).toBe('failure');
    const plan = failed.autoRollback as Extract<DeploymentRecord['autoRollback'], { deploymentId: string }>;
    expect(plan).toMatchObject({ sha: GOOD, lastGood: good.id, agentIds: ['ag_a', 'ag_b'], startedAt: expect.any(String) });
    expect(failed.description).toBe(`web-2: step migrate exited with code 3 — rolling back 2 servers to ${GOOD.slice(0, 7)} (${plan.deploymentId})`);
    expect(await activeDeploymentIds(f.store)).not.toContain(bad.id);

    const rollback = await record(plan.deploymentId);
    expect(rollback).toMatchObject({ sha: GOOD, rollbackOf: bad.id, createdBy: 'bitenvoy:auto-rollback', state: 'queued' });
    expect(rollback.batches).toEqual([{ agentIds: ['ag_a'] }, { agentIds: ['ag_b'] }]);
    expect(rollback.policy?.onFailure).toBeUndefined();
    // The agent may restore a kept release; web-3 never moved and gets nothing.
    const job = await engine.nextJob('ag_a');
    expect(job).toMatchObject({ sha: GOOD, rollback: true });
    expect(await engine.nextJob('ag_c')).toBeUndefined();
    await f.agentRuns(engine, 'ag_a');
    // No pause: the second server starts at once.
    await f.agentRuns(engine, 'ag_b');
    expect(await record(plan.deploymentId)).toMatchObject({ state: 'success', description: '2/2 servers succeeded' });
    expect(await listAudit(f.store)).toEqual([
      expect.objectContaining({ actor: 'bitenvoy', action: 'rollback', environment: 'staging', sha: GOOD, outcome: 'started', deploymentId: plan.deploymentId, detail: expect.stringMatching(new RegExp(`^automatic rollback of ${bad.id} on 2 server\\(s\\): web-2: step migrate`)) }),
    ]);
  });

  it('never rolls back a rollback, and says so', async () => {
    await shipGood();
    f.sha = BAD;
    const bad = await engine.createDeployment(DEPLOY, 'test');
    await f.agentRuns(engine, 'ag_a', 'failed', 'step migrate exited with code 3');
    const plan = (await record(bad.id)).autoRollback as { deploymentId: string };
    await f.agentRuns(engine, 'ag_a', 'failed', 'step restart exited with code 1');
    const rollback = await record(plan.deploymentId);
    expect(rollback.state).toBe('failure');
    expect(rollback.description).toBe('web-1: step restart exited with code 1');
    expect(rollback.autoRollback).toBeUndefined();
    expect((await allDeployments()).length).toBe(3);
  });

  it('has nothing to roll back to before anything succeeded', async () => {
    f.sha = BAD;
    const bad = await engine.createDeployment(DEPLOY, 'test');
    await f.agentRuns(engine, 'ag_a', 'failed', 'step migrate exited with code 3');
    expect(await record(bad.id)).toMatchObject({
      state: 'failure',
      description: 'web-1: step migrate exited with code 3 — not rolled back: no earlier commit succeeded in staging',
      autoRollback: { skipped: 'no earlier commit succeeded in staging' },
    });
    expect((await allDeployments()).length).toBe(1);
  });

  it('leaves the environment to a deployment someone queued meanwhile', async () => {
    await shipGood();
    f.sha = BAD;
    const bad = await engine.createDeployment(DEPLOY, 'test');
    f.sha = 'c'.repeat(40);
    const fix = await engine.createDeployment(DEPLOY, 'test');
    expect(fix.waitingFor).toBe(bad.id);
    await f.agentRuns(engine, 'ag_a', 'failed', 'step migrate exited with code 3');
    expect((await record(bad.id)).autoRollback).toEqual({ skipped: `${fix.id} is waiting to deploy next` });
    expect((await record(fix.id)).waitingFor).toBeUndefined();
    expect((await allDeployments()).filter((d) => d.rollbackOf)).toEqual([]);
  });

  it('starts the planned rollback after a restart, exactly once, when the hub stopped before starting it', async () => {
    await shipGood();
    f.sha = BAD;
    // This hub "dies" while starting the rollback: the call never returns.
    const dying = f.engine({ startRollback: () => new Promise(() => {}) });
    const bad = await dying.createDeployment(DEPLOY, 'test');
    const job = await dying.nextJob('ag_a');
    await dying.claimJob('ag_a', job!.id, 'cl_a');
    void dying.appendEvents('ag_a', job!.id, 'cl_a', [stateEvent(1, 'running'), stateEvent(2, 'failed', 'step migrate exited with code 3')]);
    await expect.poll(async () => (await record(bad.id)).autoRollback).toMatchObject({ deploymentId: expect.any(String) });
    dying.stop();
    const plan = (await record(bad.id)).autoRollback as { deploymentId: string; startedAt?: string };
    expect(plan.startedAt).toBeUndefined();
    expect(await activeDeploymentIds(f.store)).toContain(bad.id);

    for (let restart = 0; restart < 2; restart++) {
      const next = f.engine();
      await next.start();
      next.stop();
    }
    const rollbacks = (await allDeployments()).filter((d) => d.rollbackOf === bad.id);
    expect(rollbacks.map((d) => d.id)).toEqual([plan.deploymentId]);
    expect((await record(bad.id)).autoRollback).toMatchObject({ startedAt: expect.any(String) });
    expect(await activeDeploymentIds(f.store)).toEqual([plan.deploymentId]);
  });
});

describe('movedAgents', () => {
  const job = (agentId: string, state: JobRecord['state'], events: JobRecord['events'], claimed = true): JobRecord => ({
    spec: { id: `job_${agentId}`, deploymentId: 'dep_x', repository: 'acme/shop', environment: 'staging', ref: 'main', sha: BAD, git: { url: 'https://git.test' }, instructions: 'bitenvoy.yml', createdAt: '' },
    agentId,
    batch: 0,
    state,
    ...(claimed ? { claimedAt: '2026-11-25T10:00:00Z' } : {}),
    eventsAckedSeq: events.length,
    logsAckedSeq: 0,
    events,
  });

  it('counts servers that ran a step or went silent, not those that refused, failed before any step, or never started', () => {
    const jobs = [
      job('ag_ok', 'succeeded', [stateEvent(1, 'fetching'), stateEvent(2, 'running'), stateEvent(3, 'succeeded')]),
      job('ag_step_failed', 'failed', [stateEvent(1, 'running'), stateEvent(2, 'failed', 'step migrate exited with code 3')]),
      job('ag_silent', 'failed', [stateEvent(1, 'fetching')]),
      job('ag_refused', 'refused', [stateEvent(1, 'refused', 'not allowed')]),
      job('ag_fetch_failed', 'failed', [stateEvent(1, 'fetching'), stateEvent(2, 'failed', 'cannot fetch')]),
      job('ag_never', 'failed', [], false),
    ];
    expect(movedAgents(jobs)).toEqual(['ag_ok', 'ag_step_failed', 'ag_silent']);
  });
});
