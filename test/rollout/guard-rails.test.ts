/**
 * The environment's guard rails hold where every rollout starts, whatever asked for it: a lock stops the engine's
 * createDeployment itself (not only the commands that check first), and so does the promotion order (`after:`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys, type DeploymentRecord } from '../../app/model.js';
import { releaseLock, takeLock } from '../../app/rollout/environment-locks.js';
import { latestSuccessful } from '../../app/store/deployment-queries.js';
import type { BitEnvoyError } from '../../lib/errors.js';
import { DEPLOY, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';

let f: EngineFixture;
beforeEach(async () => {
  f = await openEngineFixture();
  await f.addAgent('ag_a', 'web-1');
  f.environments = { production: { branch: 'main', group: 'web', after: 'staging' } };
});
afterEach(async () => {
  await f.close();
});

const rejection = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a refusal'); }, (err: unknown) => err as BitEnvoyError);
const record = async (id: string) => (await f.store.get<DeploymentRecord>(keys.deployment(id)))!;
const lock = (environment?: string) => takeLock(f.store, { repository: 'acme/shop', ...(environment ? { environment } : {}), by: 'octocat', reason: 'db migration', at: new Date(f.now).toISOString() }, f.now);

describe('guard rails where every rollout starts', () => {
  it('a lock refuses a deployment from any source with 409 BE_GUARD_RAIL saying who locked it and why', async () => {
    await lock('staging');
    const err = await rejection(f.engine().createDeployment(DEPLOY, 'github:someone'));
    expect([err.code, err.status]).toEqual(['BE_GUARD_RAIL', 409]);
    expect(err.message).toMatch(/^cannot deploy `aaaaaaa` to `staging`: `staging` is locked by @octocat since .*: db migration; `bitenvoy unlock -r acme\/shop -e staging` releases it$/);
    expect(await f.store.list('deployment:')).toEqual([]);
  });

  it('names the way to unlock that works in the hub\'s mode: in GitHub mode the pull-request command as well', async () => {
    await lock('staging');
    const err = await rejection(f.engine({ mode: 'github' }).createDeployment(DEPLOY, 'api'));
    expect(err.message).toMatch(/db migration; `\/unlock staging` on a pull request or `bitenvoy unlock -r acme\/shop -e staging` releases it$/);
  });

  it('a global lock stops every environment of the repository, and an automatic rollback too', async () => {
    await lock();
    const err = await rejection(f.engine().createDeployment(DEPLOY, 'api', { rollbackOf: 'dep_old' }));
    expect(err.message).toMatch(/every environment is locked \(global lock\) by @octocat.*`bitenvoy unlock -r acme\/shop --global` releases it/);
  });

  it('the promotion order takes only the commit live on the environment before', async () => {
    const engine = f.engine();
    let err = await rejection(engine.createDeployment({ ...DEPLOY, environment: 'production' }, 'api'));
    expect(err.message).toBe('cannot deploy `aaaaaaa` to `production`: `production` takes only commits live on `staging` first; `staging` runs nothing yet, this is `aaaaaaa`');
    const staged = await engine.createDeployment(DEPLOY, 'api');
    await f.agentRuns(engine, 'ag_a');
    expect(await record(staged.id)).toMatchObject({ state: 'success' });
    expect(await latestSuccessful(f.store, 'acme/shop', 'staging')).toMatchObject({ id: staged.id, sha: staged.sha });
    // Another commit than staging's is still refused; staging's goes.
    f.sha = 'b'.repeat(40);
    err = await rejection(engine.createDeployment({ ...DEPLOY, environment: 'production' }, 'api'));
    expect(err.message).toMatch(/`staging` runs `aaaaaaa`, this is `bbbbbbb`/);
    const promoted = await engine.createDeployment({ ...DEPLOY, environment: 'production', ref: staged.sha }, 'api');
    expect(promoted.state).toBe('queued');
  });

  it('a rollback is not held by the promotion order (it brings back what was live before)', async () => {
    const dep = await f.engine().createDeployment({ ...DEPLOY, environment: 'production' }, 'api', { rollbackOf: 'dep_failed' });
    expect(dep.state).toBe('queued');
  });

  it('a deployment waiting for its environment ends `error` when a lock was taken meanwhile', async () => {
    const engine = f.engine();
    const running = await engine.createDeployment(DEPLOY, 'api');
    const waiting = await engine.createDeployment(DEPLOY, 'api');
    expect(waiting.waitingFor).toBe(running.id);
    await lock('staging');
    await f.agentRuns(engine, 'ag_a');
    expect(await record(running.id)).toMatchObject({ state: 'success' });
    const ended = await record(waiting.id);
    expect(ended).toMatchObject({ state: 'error' });
    expect(ended.description).toMatch(/^not started: `staging` is locked by @octocat/);
    expect(await engine.nextJob('ag_a')).toBeUndefined();
  });

  it('a lock holds a rollout at its gate: Continue is refused naming the lock, a timed pause waits, and unlocking lets it go on', async () => {
    await f.addAgent('ag_b', 'web-2');
    f.strategy = 'canary';
    f.strategies = { canary: { type: 'canary', canary: { size: 1, pause: 'manual' } } };
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'api');
    await f.agentRuns(engine, (await engine.nextJob('ag_a')) ? 'ag_a' : 'ag_b');
    expect((await record(dep.id)).gate).toMatchObject({ afterBatch: 0, manual: true });
    await lock('staging');
    const err = await rejection(engine.continueDeployment(dep.id, 'octocat'));
    expect([err.code, err.status]).toEqual(['BE_GUARD_RAIL', 409]);
    expect(err.message).toMatch(new RegExp(`^cannot continue ${dep.id}: \`staging\` is locked by @octocat .*: db migration; \`bitenvoy unlock -r acme/shop -e staging\` releases it, then continue the rollout$`));
    expect((await record(dep.id)).gate).toBeDefined();

    // A timed pause that runs out while locked goes on waiting, and says why; once unlocked it goes on by itself.
    f.strategies = { canary: { type: 'canary', canary: { size: 1, pause: '1m' } } };
    await releaseLock(f.store, 'acme/shop', 'staging');
    const timed = await (async () => {
      await engine.cancelDeployment(dep.id, 'test');
      return engine.createDeployment(DEPLOY, 'api');
    })();
    const first = (await engine.nextJob('ag_a')) ? 'ag_a' : 'ag_b';
    await f.agentRuns(engine, first);
    await lock('staging');
    f.now += 61_000;
    await engine.checkLeases();
    expect((await record(timed.id)).description).toMatch(/^paused after batch 1\/2: `staging` is locked by @octocat .*; it goes on once unlocked$/);
    expect(await engine.nextJob(first === 'ag_a' ? 'ag_b' : 'ag_a')).toBeUndefined();
    await releaseLock(f.store, 'acme/shop', 'staging');
    await engine.checkLeases();
    expect(await engine.nextJob(first === 'ag_a' ? 'ag_b' : 'ag_a')).toBeDefined();
  });

  it('builds what is live from the records of a store written before the live keys existed', async () => {
    const at = new Date(f.now).toISOString();
    const old: DeploymentRecord = {
      id: 'dep_old', repository: 'acme/shop', environment: 'staging', ref: 'main', sha: 'd'.repeat(40), state: 'success', description: '1/1 servers succeeded',
      strategy: 'all-at-once', group: 'web', configSha: 'c'.repeat(40), batches: [{ agentIds: ['ag_a'] }], currentBatch: 0, skipped: [], createdBy: 'api',
      createdAt: at, updatedAt: at, finishedAt: at,
    };
    await f.store.set(keys.deployment(old.id), old);
    const engine = f.engine();
    await engine.start();
    expect(await latestSuccessful(f.store, 'acme/shop', 'staging')).toMatchObject({ id: 'dep_old', sha: 'd'.repeat(40) });
  });
});
