/**
 * A job's end and its deployment's counters are one write (the store keeps them in one transaction). A hub killed
 * after that write and before it advanced the rollout leaves a rollout that is moved by the next lease check's
 * sweep, or when a restarted hub advances it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keys, type DeploymentRecord, type JobRecord } from '../../app/model.js';
import { jobCountsOf } from '../../app/store/job-queries.js';
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
async function endWithoutAdvance(deploymentId: string): Promise<void> {
  const engine = f.engine();
  const job = await engine.nextJob('ag_b');
  await engine.claimJob('ag_b', job!.id, 'cl_b');
  await f.store.update<JobRecord>(keys.job(job!.id), (j) => ({ ...j!, state: 'succeeded', finishedAt: new Date(f.now).toISOString() }));
  expect((await record(deploymentId)).state).toBe('in_progress');
}

describe('job counters', () => {
  it('follow every job write in the same transaction: created, claimed, ended, deleted', async () => {
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    expect(await jobCountsOf(f.store, dep.id)).toEqual([{ batch: 0, state: 'pending', n: 2 }]);
    await endWithoutAdvance(dep.id);
    const counts = await jobCountsOf(f.store, dep.id);
    expect(counts.sort((a, b) => a.state.localeCompare(b.state))).toEqual([
      { batch: 0, state: 'pending', n: 1 },
      { batch: 0, state: 'succeeded', n: 1 },
    ]);
    const pending = await engine.nextJob('ag_a');
    await f.store.delete(keys.job(pending!.id));
    expect(await jobCountsOf(f.store, dep.id)).toEqual([{ batch: 0, state: 'succeeded', n: 1 }]);
  });

  it('an end the hub did not advance moves its rollout at the next lease check', async () => {
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    await f.agentRuns(engine, 'ag_a');
    await endWithoutAdvance(dep.id);
    expect((await record(dep.id)).state).toBe('in_progress');
    await engine.checkLeases();
    expect(await record(dep.id)).toMatchObject({ state: 'success', description: '2/2 servers succeeded' });
  });

  it("tell another hub that the batch's jobs exist: it inserts none, and makes one that went missing again", async () => {
    const dep = await f.engine().createDeployment(DEPLOY, 'test');
    const other = f.engine();
    const inserts = vi.spyOn(f.store, 'insertMissing');
    await other.advance(dep.id);
    expect(inserts).not.toHaveBeenCalled();
    // A job gone (deleted by hand): the counters say the batch lacks one, and a hub that had not checked it makes it.
    const gone = (await other.nextJob('ag_a'))!;
    await f.store.delete(keys.job(gone.id));
    await f.engine().advance(dep.id);
    expect(inserts).toHaveBeenCalledTimes(1);
    expect((await f.store.get<JobRecord>(keys.job(gone.id)))?.state).toBe('pending');
    expect(await jobCountsOf(f.store, dep.id)).toEqual([{ batch: 0, state: 'pending', n: 2 }]);
  });

  it('and when a restarted hub advances the rollout', async () => {
    const first = f.engine();
    const dep = await first.createDeployment(DEPLOY, 'test');
    await endWithoutAdvance(dep.id);
    first.stop();
    const restarted = f.engine();
    await restarted.start();
    await f.agentRuns(restarted, 'ag_a');
    expect(await record(dep.id)).toMatchObject({ state: 'success', description: '2/2 servers succeeded' });
  });
});
