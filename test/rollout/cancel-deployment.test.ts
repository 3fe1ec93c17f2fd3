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
    expect(await record(dep.id)).toMatchObject({ state: 'cancelled', description: `asked by octocat; ${dep.sha.slice(0, 7)} is live on 0/2 servers` });
    await expect(engine.cancelDeployment(dep.id, 'octocat')).rejects.toThrow(/already ended \(cancelled: asked by octocat; \w{7} is live on 0\/2 servers\); there is nothing to cancel/);
  });

  it('says which servers run the new commit when the cancel stopped only some of them', async () => {
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const a = (await engine.nextJob('ag_a'))!;
    const b = (await engine.nextJob('ag_b'))!;
    await engine.claimJob('ag_a', a.id, 'cl_a');
    await engine.claimJob('ag_b', b.id, 'cl_b');
    await engine.cancelDeployment(dep.id, 'octocat');
    await engine.appendEvents('ag_a', a.id, 'cl_a', [stateEvent(1, 'succeeded')]);
    await engine.appendEvents('ag_b', b.id, 'cl_b', [stateEvent(1, 'cancelled', 'step deploy was stopped: cancelled by the hub')]);
    expect(await record(dep.id)).toMatchObject({ state: 'cancelled', description: `asked by octocat; ${dep.sha.slice(0, 7)} is live on 1/2 servers, the others keep what they had` });
  });

  it('ends `success`, saying so, when the cancel came after the last server had deployed', async () => {
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const a = (await engine.nextJob('ag_a'))!;
    const b = (await engine.nextJob('ag_b'))!;
    await engine.claimJob('ag_a', a.id, 'cl_a');
    await engine.claimJob('ag_b', b.id, 'cl_b');
    await engine.appendEvents('ag_a', a.id, 'cl_a', [stateEvent(1, 'succeeded')]);
    // The last server is in its last step when the cancel comes; the step ends well before the agent learns of it.
    await engine.cancelDeployment(dep.id, 'octocat');
    await engine.appendEvents('ag_b', b.id, 'cl_b', [stateEvent(1, 'succeeded')]);
    expect(await record(dep.id)).toMatchObject({ state: 'success', description: '2/2 servers succeeded; the cancel asked by octocat came after the last server had deployed' });
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
