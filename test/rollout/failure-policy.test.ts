/** Failure policy, pauses, manual gates and the overall timeout, on the real engine and store with a fake clock. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys, type DeploymentRecord } from '../../app/model.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { DEPLOY, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';

let f: EngineFixture;
let engine: RolloutEngine;
beforeEach(async () => {
  f = await openEngineFixture();
  for (const [id, name] of [['ag_a', 'web-1'], ['ag_b', 'web-2'], ['ag_c', 'web-3']] as const) await f.addAgent(id, name);
});
afterEach(async () => {
  await f.close();
});

async function start(strategy: DeploymentRecord['strategy'], definition: NonNullable<EngineFixture['strategies'][string]>): Promise<DeploymentRecord> {
  f.strategies = { [strategy]: definition };
  f.strategy = strategy;
  engine = f.engine();
  return engine.createDeployment(DEPLOY, 'test');
}
const record = async (id: string) => (await f.store.get<DeploymentRecord>(keys.deployment(id)))!;

describe('failure policy', () => {
  it('goes on past failures within maxFailures and ends in success, saying how many failed', async () => {
    const dep = await start('tolerant', { type: 'rolling', batchSize: 1, maxFailures: 1 });
    await f.agentRuns(engine, 'ag_a', 'failed', 'step build exited with code 1');
    await f.agentRuns(engine, 'ag_b');
    await f.agentRuns(engine, 'ag_c');
    expect(await record(dep.id)).toMatchObject({ state: 'success', description: '2/3 servers succeeded, 1 failed (within maxFailures 1)' });
  });

  it('stops starting servers at the first failure by default', async () => {
    const dep = await start('rolling', { type: 'rolling', batchSize: 1 });
    await f.agentRuns(engine, 'ag_a', 'failed', 'step build exited with code 1');
    expect(await record(dep.id)).toMatchObject({ state: 'failure', description: 'web-1: step build exited with code 1', currentBatch: 0 });
    expect(await engine.nextJob('ag_b')).toBeUndefined();
  });

  it('fails once failures pass maxFailures, never starting the next batch', async () => {
    const dep = await start('two', { type: 'rolling', batchSize: 2, minHealthy: 2 });
    await f.agentRuns(engine, 'ag_a', 'failed', 'step build exited with code 1');
    await f.agentRuns(engine, 'ag_b', 'failed', 'step build exited with code 2');
    expect(await record(dep.id)).toMatchObject({ state: 'failure', description: 'web-1: step build exited with code 1 (2 servers failed) — more than maxFailures 1' });
    expect(await engine.nextJob('ag_c')).toBeUndefined();
  });
});

describe('pauses and gates', () => {
  it('waits out a timed pause between batches, then starts the next one', async () => {
    const dep = await start('slow', { type: 'rolling', batchSize: 1, pause: '1m' });
    await f.agentRuns(engine, 'ag_a');
    expect(await record(dep.id)).toMatchObject({ state: 'in_progress', description: 'paused after batch 1/3 until 2026-11-25 10:01:00 UTC', gate: { afterBatch: 0, until: '2026-11-25T10:01:00.000Z' } });
    expect(await engine.nextJob('ag_b')).toBeUndefined();
    f.now += 30_000;
    await engine.checkLeases();
    expect(await engine.nextJob('ag_b')).toBeUndefined();
    f.now += 31_000;
    await engine.checkLeases();
    expect((await engine.nextJob('ag_b'))?.deploymentId).toBe(dep.id);
    expect(await record(dep.id)).not.toHaveProperty('gate');
  });

  it('holds a canary at a manual gate until someone continues it', async () => {
    const dep = await start('canary', { type: 'canary', canary: { size: 1, pause: 'manual' } });
    await f.agentRuns(engine, 'ag_a');
    expect(await record(dep.id)).toMatchObject({ description: `paused after batch 1/2: continue it on its page or with \`bitenvoy continue ${dep.id}\``, gate: { afterBatch: 0, manual: true } });
    f.now += 3_600_000;
    for (const id of ['ag_a', 'ag_b', 'ag_c']) await f.addAgent(id, id === 'ag_a' ? 'web-1' : id === 'ag_b' ? 'web-2' : 'web-3');
    await engine.checkLeases();
    expect(await engine.nextJob('ag_b')).toBeUndefined();
    expect(await engine.continueDeployment(dep.id, 'octocat')).toBe(true);
    expect(await engine.continueDeployment(dep.id, 'octocat')).toBe(false);
    await f.agentRuns(engine, 'ag_b');
    await f.agentRuns(engine, 'ag_c');
    expect(await record(dep.id)).toMatchObject({ state: 'success', description: '3/3 servers succeeded', gatesPassed: [0] });
  });

  it('fails a rollout that passes its timeout, starting nothing more', async () => {
    const dep = await start('bounded', { type: 'rolling', batchSize: 1, timeout: '30s' });
    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_a');
    f.now += 31_000;
    await engine.checkLeases();
    expect(await record(dep.id)).toMatchObject({ state: 'failure', description: 'the rollout timed out at 2026-11-25T10:00:30.000Z with 0/3 servers done' });
    expect(await engine.nextJob('ag_b')).toBeUndefined();
  });
});
