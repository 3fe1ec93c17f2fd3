/**
 * The rollout engine on a real SQLite store with a fake clock: batches in order, failures stop the rollout, leases
 * expire, a restart continues where it was, and concurrent reports never create a batch twice.
 */
import { activeDeploymentIds } from '../../app/store/deployment-queries.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keys, type DeploymentRecord, type JobRecord } from '../../app/model.js';
import { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { silentLogger } from '../../lib/logger.js';
import { DEPLOY, ENGINE_SETTINGS, SHA, configWith, openEngineFixture, stateEvent, type EngineFixture } from '../helpers/engine-fixture.js';

let f: EngineFixture;
beforeEach(async () => {
  f = await openEngineFixture();
});
afterEach(async () => {
  await f.close();
});

async function rejection(promise: Promise<unknown>): Promise<BitEnvoyError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof BitEnvoyError)) throw new Error(`expected a BitEnvoyError, got ${String(err)}`);
  return err;
}

describe('RolloutEngine deployments', () => {
  it('runs one-at-a-time batches in name order, each only after the previous succeeded', async () => {
    f.strategy = 'one-at-a-time';
    await f.addAgent('ag_b', 'web-2');
    await f.addAgent('ag_a', 'web-1');
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    expect(dep).toMatchObject({ state: 'queued', sha: SHA, group: 'web', strategy: 'one-at-a-time', description: '0/2 servers · batch 1/2' });
    expect(dep.batches.map((b) => b.agentIds)).toEqual([['ag_a'], ['ag_b']]);
    // Claimable the moment createDeployment returns, with everything the agent needs.
    const spec = await engine.nextJob('ag_a');
    expect(spec).toMatchObject({ deploymentId: dep.id, repository: 'acme/shop', environment: 'staging', ref: 'main', sha: SHA, git: { url: 'https://git.test/acme/shop.git' }, instructions: 'deploy/bitenvoy.yml' });
    expect(await engine.nextJob('ag_b')).toBeUndefined();

    await f.agentRuns(engine, 'ag_a');
    let view = (await engine.getDeploymentView(dep.id))!;
    expect(view.deployment).toMatchObject({ state: 'in_progress', currentBatch: 1, description: '1/2 servers · batch 2/2' });
    await f.agentRuns(engine, 'ag_b');
    view = (await engine.getDeploymentView(dep.id))!;
    expect(view.deployment).toMatchObject({ state: 'success', description: '2/2 servers succeeded' });
    expect(view.jobs.map((j) => [j.agentName, j.batch, j.state])).toEqual([['web-1', 0, 'succeeded'], ['web-2', 1, 'succeeded']]);
    expect(await activeDeploymentIds(store())).toEqual([]);
  });

  it('wakes the long poll of each agent of the first batch', async () => {
    await f.addAgent('ag_a', 'web-1');
    const engine = f.engine();
    const woken = engine.notifier.waitForJob('ag_a', 5_000).then(() => 'woken');
    await engine.createDeployment(DEPLOY, 'test');
    expect(await Promise.race([woken, new Promise((r) => setTimeout(() => r('timeout'), 1_000))])).toBe('woken');
  });

  it("starts the rollout with its first claim, and reads the deployment's state for no later claim", async () => {
    for (const i of [1, 2, 3]) await f.addAgent(`ag_${i}`, `web-${i}`);
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const reads = vi.spyOn(f.store.db, 'get');
    const stateReads = () => reads.mock.calls.filter(([sql]) => sql.startsWith('SELECT state FROM deployments')).length;
    for (const i of [1, 2, 3]) {
      const job = (await engine.nextJob(`ag_${i}`))!;
      await engine.claimJob(`ag_${i}`, job.id, `cl_${i}`);
      expect((await f.store.get<DeploymentRecord>(keys.deployment(dep.id)))!.state).toBe('in_progress');
    }
    expect(stateReads()).toBe(1);
    // Each agent claimed its only job: its next poll need not ask the store.
    expect(engine.notifier.mayHaveJob('ag_1')).toBe(false);
  });

  it('stops at the first failure and names the server and the step', async () => {
    f.strategy = 'one-at-a-time';
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2');
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    await f.agentRuns(engine, 'ag_a', 'failed', 'step migrate exited 1');
    const view = (await engine.getDeploymentView(dep.id))!;
    expect(view.deployment).toMatchObject({ state: 'failure', description: 'web-1: step migrate exited 1' });
    expect(view.jobs).toHaveLength(1);
    expect(await engine.nextJob('ag_b')).toBeUndefined();
  });

  it('all-at-once: a failure ends the deployment only once no job is still running', async () => {
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2');
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const jobB = (await engine.nextJob('ag_b'))!;
    await engine.claimJob('ag_b', jobB.id, 'cl_b');
    await f.agentRuns(engine, 'ag_a', 'failed', 'step build exited 2');
    expect((await engine.getDeploymentView(dep.id))!.deployment.state).toBe('in_progress');
    await engine.appendEvents('ag_b', jobB.id, 'cl_b', [stateEvent(1, 'succeeded')]);
    expect((await engine.getDeploymentView(dep.id))!.deployment).toMatchObject({ state: 'failure', description: 'web-1: step build exited 2' });
  });

  it('creates an error deployment, with the reason, when no agent is there to run it', async () => {
    await f.addAgent('ag_db', 'db-1', { role: 'db' });
    await f.addAgent('ag_old', 'web-9', { role: 'web' }, f.now - 3600_000);
    const dep = await f.engine().createDeployment(DEPLOY, 'test');
    expect(dep.state).toBe('error');
    expect(dep.description).toBe('no agents in group web: 1 of 2 enrolled agents match role=web, 1 of them lost');
    expect(dep.skipped).toEqual([{ agentId: 'ag_old', name: 'web-9', reason: 'lost: last seen 2026-11-25T09:00:00.000Z' }]);
    expect(await store().get(keys.deployment(dep.id))).toMatchObject({ state: 'error' });
  });

  it('leaves lost agents out of the plan and says why', async () => {
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_old', 'web-9', { role: 'web' }, f.now - 3 * 60_000 - 1);
    const dep = await f.engine().createDeployment(DEPLOY, 'test');
    expect(dep.batches).toEqual([{ agentIds: ['ag_a'] }]);
    expect(dep.skipped.map((s) => s.name)).toEqual(['web-9']);
  });

  it('refuses requests the config cannot satisfy, naming what exists', async () => {
    await f.addAgent('ag_a', 'web-1');
    const engine = f.engine();
    let err = await rejection(engine.createDeployment({ ...DEPLOY, repository: 'acme/nope' }, 'test'));
    expect([err.code, err.status, err.message]).toEqual(['BE_REPOSITORY_NOT_CONFIGURED', 422, 'repository `acme/nope` is not configured; configured: acme/shop']);
    err = await rejection(engine.createDeployment({ ...DEPLOY, environment: 'prod' }, 'test'));
    expect(err.message).toBe('acme/shop has no environment `prod`; its environments: staging');

    const withoutGit = configWith('all-at-once');
    delete withoutGit.repositories['acme/shop']!.git;
    const local = new RolloutEngine({ store: store(), log: silentLogger(), settings: ENGINE_SETTINGS, config: () => withoutGit, resolveRef: async () => SHA });
    err = await rejection(local.createDeployment(DEPLOY, 'test'));
    expect(err.code).toBe('BE_DEPLOY_REJECTED');
    expect(err.message).toMatch(/has no `git` URL in repositories\/acme\/shop\.yml.*add `git: https:/);

    const unconfigured = new RolloutEngine({ store: store(), log: silentLogger(), settings: ENGINE_SETTINGS, config: () => undefined });
    err = await rejection(unconfigured.createDeployment(DEPLOY, 'test'));
    expect([err.code, err.status]).toEqual(['BE_CONFIG_UNAVAILABLE', 503]);
    expect(err.message).toMatch(/^no valid config is in force for acme\/shop: in local mode set BITENVOY_CONFIG_REPO/);
    expect(await engine.listDeployments()).toEqual([]);
  });

  it('lists agents with online or lost', async () => {
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2', { role: 'web' }, f.now - 200_000);
    const { agents } = await f.engine().listAgents();
    expect(agents.map((a) => [a.name, a.online])).toEqual([['web-1', true], ['web-2', false]]);
    expect(await f.engine().agentCounts()).toEqual({ enrolled: 2, lost: 1 });
    const first = await f.engine().listAgents({ limit: 1 });
    expect([first.agents.map((a) => a.name), first.next]).toEqual([['web-1'], 'web-1']);
    expect((await f.engine().listAgents({ limit: 1, after: first.next })).agents.map((a) => a.name)).toEqual(['web-2']);
  });
});

describe('RolloutEngine leases and restarts', () => {
  it('fails a job whose lease runs out, and the deployment with it', async () => {
    await f.addAgent('ag_a', 'web-1');
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_1');
    f.now += 59_000;
    await engine.renewLease('ag_a', job.id, 'cl_1');
    f.now += 59_000;
    await engine.checkLeases();
    expect((await engine.getDeploymentView(dep.id))!.jobs[0]!.state).toBe('claimed');
    f.now += 2_000;
    await engine.checkLeases();
    const view = (await engine.getDeploymentView(dep.id))!;
    expect(view.jobs[0]!.message).toBe('web-1 stopped renewing its lease: agent lost or disconnected');
    expect(view.deployment).toMatchObject({ state: 'failure', description: 'web-1: web-1 stopped renewing its lease: agent lost or disconnected' });
    const err = await rejection(engine.renewLease('ag_a', job.id, 'cl_1'));
    expect(err.code).toBe('BE_JOB_FINISHED');
  });

  it('records a success reported after the lease ran out as what happened, and the rollout counts it', async () => {
    // All at once, no failure allowed.
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2');
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const jobA = (await engine.nextJob('ag_a'))!;
    const jobB = (await engine.nextJob('ag_b'))!;
    await engine.claimJob('ag_a', jobA.id, 'cl_a');
    await engine.claimJob('ag_b', jobB.id, 'cl_b');
    // web-1 is cut off for longer than its lease, but its step goes on; web-2 is still running when that is noticed.
    f.now += 30_000;
    await engine.renewLease('ag_b', jobB.id, 'cl_b');
    f.now += 31_000;
    await engine.checkLeases();
    expect(await jobOf(jobA.id)).toMatchObject({ state: 'failed', message: 'web-1 stopped renewing its lease: agent lost or disconnected', lostAt: expect.any(String) });
    // 40 s after the hub gave it up, web-1's report arrives: it succeeded.
    f.now += 40_000;
    await engine.appendEvents('ag_a', jobA.id, 'cl_a', [stateEvent(1, 'running'), stateEvent(2, 'succeeded')]);
    expect(await jobOf(jobA.id)).toMatchObject({ state: 'succeeded', message: 'succeeded 40 s after its lease ran out' });
    expect((await jobOf(jobA.id)).lostAt).toBeUndefined();
    await engine.appendEvents('ag_b', jobB.id, 'cl_b', [stateEvent(1, 'running'), stateEvent(2, 'succeeded')]);
    // The truth decides: both servers run the commit, so the rollout succeeded (maxFailures 0 was not breached).
    expect(await store().get<DeploymentRecord>(keys.deployment(dep.id))).toMatchObject({ state: 'success', description: '2/2 servers succeeded' });
  });

  it('checks leases on its own every second once started', async () => {
    await f.addAgent('ag_a', 'web-1');
    const engine = f.engine();
    await engine.start();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_1');
    f.now += 61_000;
    await new Promise((r) => setTimeout(r, 1_300));
    expect((await engine.getDeploymentView(dep.id))!.deployment.state).toBe('failure');
  });

  it('fails a pending job whose agent went lost before picking it up', async () => {
    await f.addAgent('ag_a', 'web-1');
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    f.now += 3 * 60_000 + 1_000;
    await engine.checkLeases();
    const view = (await engine.getDeploymentView(dep.id))!;
    expect(view.jobs[0]!.message).toBe('web-1 never picked up the job: agent lost since 2026-11-25T10:00:00.000Z');
    expect(view.deployment.state).toBe('failure');
    expect(await engine.nextJob('ag_a')).toBeUndefined();
  });

  it('continues after a restart: a new engine on the same store advances and gives leases a grace period', async () => {
    f.strategy = 'one-at-a-time';
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2');
    const first = f.engine();
    const dep = await first.createDeployment(DEPLOY, 'test');
    const job = (await first.nextJob('ag_a'))!;
    await first.claimJob('ag_a', job.id, 'cl_1');
    first.stop();
    // The hub was down for 5 minutes; the agent finished meanwhile and reports once the new hub is up.
    f.now += 300_000;
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2');
    const second = f.engine();
    await second.start();
    await second.checkLeases();
    await second.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(1, 'running'), stateEvent(2, 'succeeded')]);
    await f.agentRuns(second, 'ag_b');
    expect((await second.getDeploymentView(dep.id))!.deployment.state).toBe('success');
  });

  it('on start, moves on from a batch whose jobs all ended while the hub was down', async () => {
    f.strategy = 'one-at-a-time';
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2');
    const first = f.engine();
    const dep = await first.createDeployment(DEPLOY, 'test');
    const job = (await first.nextJob('ag_a'))!;
    first.stop();
    // As if the hub died right after storing the job's end, before advancing.
    await store().update<JobRecord>(keys.job(job.id), (j) => j && { ...j, state: 'succeeded', claimId: 'cl_1' });
    const second = f.engine();
    await second.start();
    expect((await second.nextJob('ag_b'))?.deploymentId).toBe(dep.id);
    expect((await store().get<DeploymentRecord>(keys.deployment(dep.id)))!.currentBatch).toBe(1);
  });

  it('on start, finds the active deployments from the records and goes on with them', async () => {
    f.strategy = 'one-at-a-time';
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2');
    const first = f.engine();
    const dep = await first.createDeployment(DEPLOY, 'test');
    const job = (await first.nextJob('ag_a'))!;
    first.stop();
    await store().update<JobRecord>(keys.job(job.id), (j) => j && { ...j, state: 'succeeded', claimId: 'cl_1' });
    const second = f.engine();
    await second.start();
    expect(await activeDeploymentIds(store())).toEqual([dep.id]);
    expect((await second.nextJob('ag_b'))?.deploymentId).toBe(dep.id);
  });

  it('never creates a batch twice when reports arrive at once, even from two engines', async () => {
    f.strategy = 'one-at-a-time';
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2');
    const engine = f.engine();
    const other = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_1');
    const report = [stateEvent(1, 'running'), stateEvent(2, 'succeeded')];
    await Promise.all([
      engine.appendEvents('ag_a', job.id, 'cl_1', report),
      other.appendEvents('ag_a', job.id, 'cl_1', report),
      engine.advance(dep.id),
      other.advance(dep.id),
      engine.advance(dep.id),
    ]);
    expect((await store().list<JobRecord>('job:')).filter((j) => j.value.agentId === 'ag_b' && j.value.state === 'pending')).toHaveLength(1);
    const jobs = await store().list<JobRecord>('job:');
    expect(jobs.map((j) => j.value.agentId).sort()).toEqual(['ag_a', 'ag_b']);
    expect((await engine.getDeploymentView(dep.id))!.deployment.currentBatch).toBe(1);
  });
});

async function jobOf(id: string): Promise<JobRecord> {
  return (await store().get<JobRecord>(keys.job(id)))!;
}

function store() {
  return f.store;
}
