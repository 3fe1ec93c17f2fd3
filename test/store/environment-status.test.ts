/**
 * An environment's status from the store, on both backends: the live commit, the newest deployment when it is
 * another, the rollout in progress and the one waiting, the lock — among another environment's history, which must
 * not leak in. The successful deployment of a commit named by a SHA prefix (what `bitenvoy rollback --to` goes back
 * to). On SQLite, the query plans show the new indexes are the ones read.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { keys, type DeploymentRecord } from '../../app/model.js';
import { takeLock } from '../../app/rollout/environment-locks.js';
import { readEnvironmentStatus } from '../../app/rollout/environment-status.js';
import { latestSuccessfulOfCommit } from '../../app/store/deployment-queries.js';
import type { Store } from '../../app/store/store.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'abc'.padEnd(40, '1');

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  let store: Store;
  let n = 0;
  beforeEach(() => {
    store = stores.store;
  });

  async function deployment(fields: Partial<DeploymentRecord> & { sha: string; state: DeploymentRecord['state'] }, environment = 'production'): Promise<string> {
    n++;
    const id = `dep_${String(n).padStart(12, '0')}`;
    const at = `2026-12-01T10:${String(n).padStart(2, '0')}:00.000Z`;
    const final = ['success', 'failure', 'error', 'cancelled'].includes(fields.state);
    await store.set(keys.deployment(id), {
      id,
      repository: 'acme/shop',
      environment,
      ref: 'main',
      description: fields.state,
      createdBy: 'api',
      createdAt: at,
      updatedAt: at,
      batches: [{ agentIds: ['ag_1'] }],
      currentBatch: 0,
      ...(final ? { finishedAt: at } : {}),
      ...fields,
    } as DeploymentRecord);
    return id;
  }

  it('shows the live commit, a newer failure, the rollout in progress and the one waiting, and the lock', async () => {
    const old = await deployment({ sha: A, state: 'success' });
    const live = await deployment({ sha: B, state: 'success', trigger: 'rollback', rollbackOf: old });
    // Staging's history is not production's.
    await deployment({ sha: C, state: 'success' }, 'staging');
    const failed = await deployment({ sha: C, state: 'failure' });
    const running = await deployment({ sha: C, state: 'in_progress', gate: { afterBatch: 0, manual: true, since: '2026-12-01T11:00:00.000Z' } });
    const waiting = await deployment({ sha: A, state: 'queued', waitingFor: running });
    await takeLock(store, { repository: 'acme/shop', environment: 'production', by: 'alice', reason: 'db migration', at: '2026-12-01T11:00:00.000Z' });

    const status = await readEnvironmentStatus(store, 'acme/shop', 'production');
    expect(status).toMatchObject({
      repository: 'acme/shop',
      environment: 'production',
      live: { deploymentId: live, sha: B, state: 'success', createdBy: 'api', trigger: 'rollback', rollbackOf: old, finishedAt: expect.any(String) },
      latest: { deploymentId: waiting, state: 'queued' },
      rollout: { deploymentId: running, state: 'in_progress', gate: { afterBatch: 0, manual: true }, batches: 1, currentBatch: 0 },
      waiting: { deploymentId: waiting, sha: A },
      lock: { by: 'alice', reason: 'db migration' },
    });
    expect(status.rollout?.deploymentId).not.toBe(failed);

    // Nothing deployed: only the names.
    expect(await readEnvironmentStatus(store, 'acme/shop', 'canary')).toEqual({ repository: 'acme/shop', environment: 'canary' });
    // The live deployment is not repeated as the latest; a failed rollout is not one in progress.
    const staging = await readEnvironmentStatus(store, 'acme/shop', 'staging');
    expect(staging.live?.sha).toBe(C);
    expect(staging).not.toHaveProperty('latest');
    await deployment({ sha: A, state: 'failure', autoRollback: { deploymentId: 'dep_rb', sha: C, lastGood: 'x', agentIds: [] } }, 'staging');
    expect(await readEnvironmentStatus(store, 'acme/shop', 'staging')).toMatchObject({ latest: { state: 'failure' } });
    expect(await readEnvironmentStatus(store, 'acme/shop', 'staging')).not.toHaveProperty('rollout');
  });

  it('finds the newest success of a commit by SHA prefix, and refuses a prefix of two commits', async () => {
    await deployment({ sha: C, state: 'success' });
    const newer = await deployment({ sha: C, state: 'success' });
    await deployment({ sha: 'abd'.padEnd(40, '2'), state: 'success' });
    await deployment({ sha: 'abc9'.padEnd(40, '3'), state: 'failure' });
    expect((await latestSuccessfulOfCommit(store, 'acme/shop', 'production', 'ABC1111'))?.id).toBe(newer);
    expect((await latestSuccessfulOfCommit(store, 'acme/shop', 'production', C))?.id).toBe(newer);
    expect(await latestSuccessfulOfCommit(store, 'acme/shop', 'staging', 'abc1111')).toBeUndefined();
    // Only a failure of abc9…: no success to go back to.
    expect(await latestSuccessfulOfCommit(store, 'acme/shop', 'production', 'abc9333')).toBeUndefined();
    await expect(latestSuccessfulOfCommit(store, 'acme/shop', 'production', 'ab')).rejects.toMatchObject({
      code: 'BE_BAD_REQUEST',
      message: '`ab` names more than one commit that succeeded on `production` (abc111111111, abd222222222): give more of the SHA',
    });
  });

  it.skipIf(backend.name !== 'sqlite')('reads the environment indexes, not its history', async () => {
    const plan = async (sql: string) => (await store.db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, 'acme/shop', 'production', 'abc', 'abd')).map((r) => r.detail).join('; ');
    expect(await plan('SELECT key FROM deployments WHERE active = 1 AND repository = ? AND environment = ? AND ? < ? ORDER BY created_at')).toContain('deployments_active_by_environment');
    expect(await plan("SELECT DISTINCT sha FROM deployments WHERE repository = ? AND environment = ? AND state = 'success' AND sha >= ? AND sha < ? ORDER BY sha LIMIT 2")).toContain(
      'deployments_successful_by_sha',
    );
  });
});
