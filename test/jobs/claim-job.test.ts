/**
 * Claims and leases as the agent API sees them: who may claim, what a retry gets, and what every refusal says.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys, type DeploymentRecord, type JobRecord } from '../../app/model.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { BitEnvoyError } from '../../lib/errors.js';
import type { JobSpec } from '../../lib/protocol.js';
import { DEPLOY, openEngineFixture, stateEvent, type EngineFixture } from '../helpers/engine-fixture.js';

let f: EngineFixture;
let engine: RolloutEngine;
let job: JobSpec;
beforeEach(async () => {
  f = await openEngineFixture();
  await f.addAgent('ag_a', 'web-1');
  await f.addAgent('ag_b', 'web-2', { role: 'db' });
  engine = f.engine();
  await engine.createDeployment(DEPLOY, 'test');
  job = (await engine.nextJob('ag_a'))!;
});
afterEach(async () => {
  await f.close();
});

async function codeOf(promise: Promise<unknown>): Promise<[string, number]> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof BitEnvoyError)) throw new Error(`expected a BitEnvoyError, got ${String(err)}`);
  return [err.code, err.status];
}

describe('claimJob', () => {
  it('claims a pending job with a lease, takes it off the queue and starts the deployment', async () => {
    const answer = await engine.claimJob('ag_a', job.id, 'cl_1');
    expect(answer.job).toEqual(job);
    expect(answer.lease).toEqual({ leaseExpiresAt: '2026-11-25T10:01:00.000Z', leaseSeconds: 60, cancelRequested: false });
    const stored = (await f.store.get<JobRecord>(keys.job(job.id)))!;
    expect(stored).toMatchObject({ state: 'claimed', claimId: 'cl_1', claimedAt: '2026-11-25T10:00:00.000Z' });
    expect(await engine.nextJob('ag_a')).toBeUndefined();
    expect((await f.store.get<DeploymentRecord>(keys.deployment(job.deploymentId)))!.state).toBe('in_progress');
  });

  it('answers a retry with the same claimId again, and the same lease', async () => {
    const first = await engine.claimJob('ag_a', job.id, 'cl_1');
    f.now += 5_000;
    expect(await engine.claimJob('ag_a', job.id, 'cl_1')).toEqual(first);
  });

  it('refuses another claimId with 409 BE_JOB_CLAIMED', async () => {
    await engine.claimJob('ag_a', job.id, 'cl_1');
    expect(await codeOf(engine.claimJob('ag_a', job.id, 'cl_2'))).toEqual(['BE_JOB_CLAIMED', 409]);
  });

  it('answers 404 for another agent and for an unknown id, alike', async () => {
    expect(await codeOf(engine.claimJob('ag_b', job.id, 'cl_1'))).toEqual(['BE_NOT_FOUND', 404]);
    expect(await codeOf(engine.claimJob('ag_a', 'job_nope', 'cl_1'))).toEqual(['BE_NOT_FOUND', 404]);
    // The failed attempt of the other agent changed nothing.
    expect((await f.store.get<JobRecord>(keys.job(job.id)))!.state).toBe('pending');
  });

  it('refuses a finished job with 409 BE_JOB_FINISHED, even to its own claim', async () => {
    await engine.claimJob('ag_a', job.id, 'cl_1');
    await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(1, 'failed', 'step build exited 1')]);
    expect(await codeOf(engine.claimJob('ag_a', job.id, 'cl_1'))).toEqual(['BE_JOB_FINISHED', 409]);
    expect(await codeOf(engine.claimJob('ag_a', job.id, 'cl_2'))).toEqual(['BE_JOB_FINISHED', 409]);
  });

  it('lets exactly one of two racing claims win', async () => {
    const results = await Promise.allSettled([engine.claimJob('ag_a', job.id, 'cl_1'), engine.claimJob('ag_a', job.id, 'cl_2')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((lost.reason as BitEnvoyError).code).toBe('BE_JOB_CLAIMED');
  });
});

describe('renewLease', () => {
  it('extends the lease from now', async () => {
    await engine.claimJob('ag_a', job.id, 'cl_1');
    f.now += 30_000;
    expect(await engine.renewLease('ag_a', job.id, 'cl_1')).toEqual({ leaseExpiresAt: '2026-11-25T10:01:30.000Z', leaseSeconds: 60, cancelRequested: false });
  });

  it('refuses the wrong claimId, another agent, and a finished job', async () => {
    await engine.claimJob('ag_a', job.id, 'cl_1');
    expect(await codeOf(engine.renewLease('ag_a', job.id, 'cl_2'))).toEqual(['BE_JOB_CLAIMED', 409]);
    expect(await codeOf(engine.renewLease('ag_b', job.id, 'cl_1'))).toEqual(['BE_NOT_FOUND', 404]);
    await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(1, 'succeeded')]);
    expect(await codeOf(engine.renewLease('ag_a', job.id, 'cl_1'))).toEqual(['BE_JOB_FINISHED', 409]);
  });

  it('passes on a cancel request', async () => {
    await engine.claimJob('ag_a', job.id, 'cl_1');
    await f.store.update<JobRecord>(keys.job(job.id), (j) => j && { ...j, cancelRequested: true });
    expect((await engine.renewLease('ag_a', job.id, 'cl_1')).cancelRequested).toBe(true);
  });
});
