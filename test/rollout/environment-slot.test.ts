/** One active rollout per environment: newer requests queue, a newer queued one supersedes an older one. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys, type DeploymentRecord } from '../../app/model.js';
import { jobIdFor } from '../../app/rollout/rollout-engine.js';
import { DEPLOY, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';

let f: EngineFixture;
beforeEach(async () => {
  f = await openEngineFixture();
  await f.addAgent('ag_a', 'web-1');
});
afterEach(async () => {
  await f.close();
});

const record = (id: string) => f.store.get<DeploymentRecord>(keys.deployment(id));

describe('one active rollout per environment', () => {
  it('queues a second deployment until the first ends, supersedes an older queued one, then runs the newest', async () => {
    const engine = f.engine();
    const first = await engine.createDeployment(DEPLOY, 'test');
    const second = await engine.createDeployment(DEPLOY, 'test');
    expect(second).toMatchObject({ state: 'queued', waitingFor: first.id, description: `waiting for ${first.id} to finish` });
    const third = await engine.createDeployment(DEPLOY, 'test');
    expect(await record(second.id)).toMatchObject({ state: 'error', description: `superseded by ${third.id} before it started` });
    expect(await record(second.id)).not.toHaveProperty('waitingFor');
    expect(third.waitingFor).toBe(first.id);
    // A deployment of another environment is not held up.
    const production = await engine.createDeployment({ ...DEPLOY, environment: 'production' }, 'test').catch((err: Error) => err);
    expect(production).toBeInstanceOf(Error); // the fixture's config has only staging

    // Only the first one's job is out; when it ends, the newest queued one starts.
    const job1 = await f.agentRuns(engine, 'ag_a');
    expect(job1).toContain(first.id.replace('dep_', ''));
    expect(await record(first.id)).toMatchObject({ state: 'success' });
    const started = await record(third.id);
    expect(started).toMatchObject({ state: 'queued' });
    expect(started).not.toHaveProperty('waitingFor');
    const job3 = await f.agentRuns(engine, 'ag_a');
    expect(job3).toContain(third.id.replace('dep_', ''));
    expect(await record(third.id)).toMatchObject({ state: 'success' });
    expect(await engine.nextJob('ag_a')).toBeUndefined();
  });

  it('starts the waiting deployment after a restart when the active one had already ended', async () => {
    const engine = f.engine();
    const first = await engine.createDeployment(DEPLOY, 'test');
    const second = await engine.createDeployment(DEPLOY, 'test');
    // The first ends, but the hub stops before handing the environment over.
    await f.store.update<DeploymentRecord>(keys.deployment(first.id), (d) => ({ ...d!, state: 'failure', finishedAt: new Date(f.now).toISOString() }));
    engine.stop();
    const restarted = f.engine();
    await restarted.start();
    expect(await record(second.id)).not.toHaveProperty('waitingFor');
    expect(await f.store.get(keys.job(jobIdFor(second.id, 0, 'ag_a')))).toMatchObject({ state: 'pending' });
  });
});
