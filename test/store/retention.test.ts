/**
 * Retention on a real store: old deployments go with their jobs, counters and logs, except what each environment
 * still needs (its newest deployment, what it runs, what /rollback goes back to); audit entries stay longer; logs stay
 * within their byte budget; a SQLite file gives the freed pages back. On both backends.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordAudit } from '../../app/audit/audit-log.js';
import { keys, type DeploymentRecord } from '../../app/model.js';
import { keptDeployments, pruneOnce } from '../../app/store/retention.js';
import { LOG_BYTES, readTotal } from '../../app/store/document-writes.js';
import { lastGoodOtherThan, latestSuccessful } from '../../app/store/deployment-queries.js';
import { jobCountsOf } from '../../app/store/job-queries.js';
import type { SqlStore } from '../../app/store/sql-store.js';
import { DEPLOY, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

const DAY = 86_400_000;

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  let f: EngineFixture;
  let store: SqlStore;
  beforeEach(async () => {
    store = stores.store;
    f = await openEngineFixture({ store });
    await f.addAgent('ag_a', 'web-1', { role: 'web' }, Date.parse('2030-01-01T00:00:00Z'));
  });
  afterEach(async () => {
    await f.close();
  });

  /** Deploys `sha` to staging on day `day` (fake clock) and ends it as `outcome`, with a log line. */
  async function deployOn(day: number, sha: string, outcome: 'succeeded' | 'failed'): Promise<DeploymentRecord> {
    f.now = Date.parse('2026-01-01T00:00:00Z') + day * DAY;
    f.sha = sha;
    const engine = f.engine();
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const jobId = await f.agentRuns(engine, 'ag_a', outcome);
    await engine.appendLogs('ag_a', jobId, 'cl_ag_a', [{ seq: 1, at: new Date(f.now).toISOString(), stream: 'stdout', data: `deploying ${sha.slice(0, 7)} ${'x'.repeat(200)}\n` }]);
    engine.stop();
    return (await store.get<DeploymentRecord>(keys.deployment(dep.id)))!;
  }

  const count = async (table: string) => Number((await store.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n);
  const logBytes = () => readTotal(store.db, LOG_BYTES);
  const sumOfLogBytes = async () => Number((await store.db.get<{ n: number }>('SELECT COALESCE(SUM(bytes), 0) AS n FROM log_entries'))!.n);

  it('never removes what /rollback and the promotion order need, and removes the rest past the window', async () => {
    const old1 = await deployOn(0, '1'.repeat(40), 'succeeded');
    const old2 = await deployOn(1, '2'.repeat(40), 'succeeded');
    const previous = await deployOn(2, '3'.repeat(40), 'succeeded');
    const live = await deployOn(3, '4'.repeat(40), 'succeeded');
    const sameAgain = await deployOn(4, '4'.repeat(40), 'succeeded');
    const newestFailed = await deployOn(5, '5'.repeat(40), 'failed');
    expect(await count('deployments')).toBe(6);
    const before = { current: await latestSuccessful(store, 'acme/shop', 'staging'), back: await lastGoodOtherThan(store, 'acme/shop', 'staging', '4'.repeat(40)) };
    expect(before.current?.id).toBe(sameAgain.id);
    expect(before.back?.id).toBe(previous.id);

    // 200 days later, with a 90-day window: everything is old.
    const result = await pruneOnce(store, { retentionDays: 90, auditRetentionDays: 730, logBudgetBytes: 1 << 30 }, f.now + 200 * DAY);
    const left = (await store.db.all<{ key: string }>('SELECT key FROM deployments ORDER BY created_at')).map((r) => r.key.slice('deployment:'.length));
    expect(left).toEqual([previous.id, sameAgain.id, newestFailed.id]);
    expect(result).toMatchObject({ deployments: 3, jobs: 3 });
    expect([...(await keptDeployments(store))].sort()).toEqual([previous.id, sameAgain.id, newestFailed.id].map((id) => `deployment:${id}`).sort());
    // /rollback and the promotion order answer as before.
    expect((await latestSuccessful(store, 'acme/shop', 'staging'))?.id).toBe(sameAgain.id);
    expect((await lastGoodOtherThan(store, 'acme/shop', 'staging', '4'.repeat(40)))?.id).toBe(previous.id);
    // The pruned ones are gone whole; the kept ones keep their jobs and counters but lose their old logs.
    for (const gone of [old1, old2, live]) {
      expect(await store.get(keys.deployment(gone.id))).toBeUndefined();
      expect(await jobCountsOf(store, gone.id)).toEqual([]);
    }
    expect(await jobCountsOf(store, previous.id)).toEqual([{ batch: 0, state: 'succeeded', n: 1 }]);
    expect(await count('jobs')).toBe(3);
    expect(await count('log_entries')).toBe(0);
    expect(await logBytes()).toBe(0);
  });

  it('keeps deployments inside the window, and audit entries for their own, longer window', async () => {
    await deployOn(0, '1'.repeat(40), 'succeeded');
    await deployOn(1, '2'.repeat(40), 'succeeded');
    await recordAudit(store, { at: '2026-01-01T00:00:00.000Z', actor: 'api', action: 'deploy', repository: 'acme/shop', outcome: 'started' });
    await recordAudit(store, { at: '2026-06-01T00:00:00.000Z', actor: 'api', action: 'deploy', repository: 'acme/shop', outcome: 'started' });
    const result = await pruneOnce(store, { retentionDays: 90, auditRetentionDays: 365, logBudgetBytes: 1 << 30 }, Date.parse('2026-01-20T00:00:00Z'));
    expect(result).toMatchObject({ deployments: 0, auditEntries: 0 });
    expect(await count('deployments')).toBe(2);
    const later = await pruneOnce(store, { retentionDays: 90, auditRetentionDays: 365, logBudgetBytes: 1 << 30 }, Date.parse('2027-02-01T00:00:00Z'));
    expect(later.auditEntries).toBe(1);
    expect((await store.db.all<{ at: string }>('SELECT at FROM audit_entries')).map((r) => r.at)).toEqual(['2026-06-01T00:00:00.000Z']);
  });

  it('keeps all logs within the byte budget, the oldest going first, and the running total true', async () => {
    for (let day = 0; day < 8; day++) await deployOn(day, String(day).repeat(40), 'succeeded');
    const total = await logBytes();
    expect(total).toBe(await sumOfLogBytes());
    expect(total).toBeGreaterThan(8 * 200);
    const budget = Math.floor(total / 3);
    await pruneOnce(store, { retentionDays: 3650, auditRetentionDays: 3650, logBudgetBytes: budget }, f.now);
    expect(await logBytes()).toBeLessThanOrEqual(budget);
    expect(await logBytes()).toBe(await sumOfLogBytes());
    // The newest deployment's log is still there.
    const newest = (await store.db.all<{ doc: string }>('SELECT doc FROM log_entries')).map((r) => r.doc).join();
    expect(newest).toContain('deploying 7777777');
    expect(newest).not.toContain('deploying 0000000');
  });

  it.skipIf(backend.name !== 'sqlite')('gives freed pages back to the file system', async () => {
    for (let day = 0; day < 30; day++) {
      const dep = await deployOn(day, String(day % 10).repeat(39) + String(day % 7), 'succeeded');
      await store.set(keys.logEntry(`job_bulk${day}`, 1), { data: 'y'.repeat(50_000), dep: dep.id });
    }
    const pages = async () => Number((await store.db.get<{ page_count: number }>('PRAGMA page_count'))!.page_count);
    const before = await pages();
    const result = await pruneOnce(store, { retentionDays: 1, auditRetentionDays: 3650, logBudgetBytes: 10_000 }, f.now + 30 * DAY);
    expect(result.pagesFreed).toBeGreaterThan(0);
    expect(await pages()).toBeLessThan(before / 2);
  });
});
