/**
 * The job tally on the real engine and store: a job whose end reached its record but not the tally (a hub killed
 * between the two writes) still moves its rollout — at the next lease check, or when a restarted hub advances it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys, type DeploymentRecord, type JobRecord } from '../../app/model.js';
import { DEPLOY, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';

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

/** Ends web-2's job in its record only, as a hub killed right after that write would leave it. */
async function endUntallied(deploymentId: string): Promise<void> {
  const engine = f.engine();
  const job = await engine.nextJob('ag_b');
  await engine.claimJob('ag_b', job!.id, 'cl_b');
  await f.store.update<JobRecord>(keys.job(job!.id), (j) => ({ ...j!, state: 'succeeded', finishedAt: new Date(f.now).toISOString() }));
  expect((await record(deploymentId)).state).toBe('in_progress');
}

describe('the job tally', () => {
  it('counts an end that never reached the tally at the next lease check', async () => {
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    await f.agentRuns(engine, 'ag_a');
    await endUntallied(dep.id);
    expect((await record(dep.id)).state).toBe('in_progress');
    await engine.checkLeases();
    expect(await record(dep.id)).toMatchObject({ state: 'success', description: '2/2 servers succeeded' });
    expect(await f.store.get(`job-tally:${dep.id}`)).toBeUndefined();
  });

  it('counts it when a restarted hub advances the rollout', async () => {
    const first = f.engine();
    const dep = await first.createDeployment(DEPLOY, 'test');
    await endUntallied(dep.id);
    first.stop();
    const restarted = f.engine();
    await restarted.start();
    await f.agentRuns(restarted, 'ag_a');
    expect(await record(dep.id)).toMatchObject({ state: 'success', description: '2/2 servers succeeded' });
  });
});
