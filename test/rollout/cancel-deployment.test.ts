/** Cancelling a rollout: pending jobs stop at once, held ones learn it from their lease, and it ends `cancelled`. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys, type DeploymentRecord, type JobRecord } from '../../app/model.js';
import { jobIdFor } from '../../app/rollout/rollout-engine.js';
import { DEPLOY, openEngineFixture, stateEvent, type EngineFixture } from '../helpers/engine-fixture.js';

let f: EngineFixture;
beforeEach(async () => {
  f = await openEngineFixture();
  await f.addAgent('ag_a', 'web-1');
  await f.addAgent('ag_b', 'web-2');
});
afterEach(async () => {
  await f.close();
});

const record = async (id: string) => (await f.store.get<DeploymentRecord>(keys.deployment(id)))!;

describe('cancelDeployment', () => {
  it('cancels pending jobs at once, asks holders through their lease, and ends cancelled when they stop', async () => {
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const held = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', held.id, 'cl_a');
    await engine.appendEvents('ag_a', held.id, 'cl_a', [stateEvent(1, 'running')]);

    const cancelling = await engine.cancelDeployment(dep.id, 'octocat');
    expect(cancelling).toMatchObject({ state: 'in_progress', description: 'cancelling (asked by octocat)', cancelRequested: { by: 'octocat' } });
    expect(await f.store.get<JobRecord>(keys.job(jobIdFor(dep.id, 0, 'ag_b')))).toMatchObject({ state: 'cancelled', message: 'cancelled by octocat before it started' });
    expect(await engine.nextJob('ag_b')).toBeUndefined();
    expect(await engine.renewLease('ag_a', held.id, 'cl_a')).toMatchObject({ cancelRequested: true });

    await engine.appendEvents('ag_a', held.id, 'cl_a', [stateEvent(2, 'cancelled', 'step deploy was stopped: cancelled by the hub')]);
    expect(await record(dep.id)).toMatchObject({ state: 'cancelled', description: 'asked by octocat; 0/2 servers had finished' });
    await expect(engine.cancelDeployment(dep.id, 'octocat')).rejects.toThrow(/already ended \(cancelled: asked by octocat; 0\/2 servers had finished\); there is nothing to cancel/);
  });

  it('takes a deployment waiting for its environment out of the queue, leaving the running one alone', async () => {
    const engine = f.engine();
    const running = await engine.createDeployment(DEPLOY, 'test');
    const waiting = await engine.createDeployment(DEPLOY, 'test');
    await engine.cancelDeployment(waiting.id, 'octocat');
    expect(await record(waiting.id)).toMatchObject({ state: 'cancelled', description: 'asked by octocat before it started' });
    await f.agentRuns(engine, 'ag_a');
    await f.agentRuns(engine, 'ag_b');
    expect(await record(running.id)).toMatchObject({ state: 'success' });
    // Nothing was left queued behind it.
    expect(await engine.nextJob('ag_a')).toBeUndefined();
  });
});
