/**
 * How many messages (round trips) the store's job and log writes cost on PostgreSQL, counted on a real server as the
 * pg client sends them: a job's update is BEGIN with the locked read, then one statement for the row with its
 * counters and release, sent with the COMMIT; a new log entry is BEGIN with its insert, then its total with the
 * COMMIT; a batch of new jobs is one insert and one counters' write. And, on both backends, that the writes sent
 * together (statement-steps.ts `together`) run in order, say what each changed, and leave the counters true.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keys, type JobRecord } from '../../app/model.js';
import { LOG_BYTES, readTotal } from '../../app/store/document-writes.js';
import { jobCountsOf } from '../../app/store/job-queries.js';
import type { SqlStore } from '../../app/store/sql-store.js';
import { together } from '../../app/store/sql/statement-steps.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

const SHA = 'b'.repeat(40);
const AT = '2026-12-05T10:00:00.000Z';

function job(state: JobRecord['state'], extra: Partial<JobRecord> = {}): JobRecord {
  return {
    spec: { id: 'job_dep_1_0', deploymentId: 'dep_1', repository: 'acme/shop', environment: 'staging', ref: 'main', sha: SHA, git: { url: 'https://git.test/acme/shop.git' }, instructions: 'bitenvoy.yml', createdAt: AT },
    agentId: 'ag_1',
    batch: 0,
    state,
    eventsAckedSeq: 0,
    logsAckedSeq: 0,
    events: [],
    ...extra,
  };
}

async function countsOf(store: SqlStore): Promise<Record<string, number>> {
  return Object.fromEntries((await jobCountsOf(store, 'dep_1')).map(({ state, n }) => [state, n]));
}

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  let store: SqlStore;
  beforeEach(() => {
    store = stores.store;
  });

  it('runs writes sent together in order, and says what each changed', async () => {
    await store.db.run("INSERT INTO totals (name, stripe, n) VALUES ('t', 0, 1)");
    const changes = await store.db.transactionSteps(() =>
      together([
        { sql: 'UPDATE totals SET n = n + ? WHERE name = ?', params: [41, 't'] },
        { sql: 'DELETE FROM releases WHERE agent_id = ?', params: ['nobody'] },
        { sql: 'INSERT INTO job_counts (deployment_id, batch, state, stripe, n) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)', params: ['d', 0, 'a', 0, 1, 'd', 0, 'b', 0, 2] },
      ]),
    );
    expect(changes).toEqual([1, 0, 2]);
    expect(await readTotal(store.db, 't')).toBe(42);
  });

  it('rolls back every write sent together when one fails', async () => {
    await store.db.run("INSERT INTO totals (name, stripe, n) VALUES ('t', 0, 1)");
    const failing = store.db.transactionSteps(() =>
      together([
        { sql: 'UPDATE totals SET n = n + ? WHERE name = ?', params: [41, 't'] },
        { sql: 'INSERT INTO totals (name, stripe, n) VALUES (?, ?, ?)', params: ['u', 0, null] },
      ]),
    );
    await expect(failing).rejects.toThrow(/null|NOT NULL/i);
    expect(await readTotal(store.db, 't')).toBe(1);
  });

  it('keeps the counters and the release of a job updated to its end, and a log entry rewritten', async () => {
    await store.set(keys.job('job_dep_1_0'), job('pending'));
    await store.update<JobRecord>(keys.job('job_dep_1_0'), (j) => j && { ...j, state: 'running' });
    expect(await countsOf(store)).toEqual({ running: 1 });
    await store.update<JobRecord>(keys.job('job_dep_1_0'), (j) => j && { ...j, state: 'succeeded', finishedAt: AT });
    await store.update<JobRecord>(keys.job('job_dep_1_0'), (j) => j && { ...j, logsAckedSeq: 3 });
    expect(await countsOf(store)).toEqual({ succeeded: 1 });
    expect(await store.db.all('SELECT agent_id, job_id FROM releases')).toEqual([{ agent_id: 'ag_1', job_id: 'job_dep_1_0' }]);

    await store.set(keys.logEntry('job_dep_1_0', 1), { data: 'short' });
    await store.set(keys.logEntry('job_dep_1_0', 1), { data: 'a longer line, rewritten' });
    await store.set(keys.logEntry('job_dep_1_0', 2), { data: 'x' });
    const bytes = Number((await store.db.get<{ n: number }>('SELECT SUM(bytes) AS n FROM log_entries'))!.n);
    expect(await readTotal(store.db, LOG_BYTES)).toBe(bytes);
  });

  it('inserts only missing records, each key once, counting each new job and a new ended one as its release', async () => {
    const made = (i: number, state: JobRecord['state'] = 'pending') => ({ key: keys.job(`job_dep_1_${i}`), value: job(state, { spec: { ...job(state).spec, id: `job_dep_1_${i}` }, agentId: `ag_${i}`, ...(state === 'succeeded' ? { finishedAt: AT } : {}) }) });
    await store.set(made(1).key, made(1, 'running').value);
    const written = await store.insertMissing([made(0), made(1), made(2), made(2, 'failed'), made(3, 'succeeded')]);
    expect(written).toEqual([made(0).key, made(2).key, made(3).key]);
    expect((await store.get<JobRecord>(made(1).key))!.state).toBe('running');
    expect((await store.get<JobRecord>(made(2).key))!.state).toBe('pending');
    expect(await countsOf(store)).toEqual({ pending: 2, running: 1, succeeded: 1 });
    expect(await store.db.all('SELECT agent_id, job_id FROM releases')).toEqual([{ agent_id: 'ag_3', job_id: 'job_dep_1_3' }]);
    expect(await store.insertMissing([made(0), made(3, 'succeeded')])).toEqual([]);
    expect(await countsOf(store)).toEqual({ pending: 2, running: 1, succeeded: 1 });
  });
});

describe.skipIf(STORE_BACKENDS[1]!.unavailable)('round trips on postgres', () => {
  const stores = useStoreBackend(STORE_BACKENDS[1]!);
  let sent: string[] = [];
  beforeEach(() => {
    sent = [];
    const query = pg.Client.prototype.query;
    vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text;
      sent.push(String(text).replace(/\s+/g, ' '));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("sends a job's update in 2 messages: BEGIN with its locked read, its end (counters and release) with the COMMIT", async () => {
    const store = stores.store;
    await store.set(keys.job('job_dep_1_0'), job('running'));
    sent = [];
    await store.update<JobRecord>(keys.job('job_dep_1_0'), (j) => j && { ...j, state: 'succeeded', finishedAt: AT });
    expect(sent).toEqual([
      "BEGIN; SELECT key, doc, deployment_id, batch, state FROM jobs WHERE key = 'job:job_dep_1_0' FOR UPDATE",
      expect.stringMatching(/^WITH w0 AS \(INSERT INTO jobs .*; COMMIT$/),
    ]);
    expect(await countsOf(store)).toEqual({ succeeded: 1 });
    expect(await store.db.all('SELECT job_id FROM releases')).toEqual([{ job_id: 'job_dep_1_0' }]);
  });

  it('sends a new log entry in 2 messages, and a rewritten one in 3', async () => {
    const store = stores.store;
    await store.set(keys.logEntry('job_dep_1_0', 1), { data: 'first' });
    expect(sent).toEqual([expect.stringMatching(/^BEGIN; INSERT INTO log_entries .* DO NOTHING$/), expect.stringMatching(/^INSERT INTO totals .*; COMMIT$/)]);
    sent = [];
    await store.set(keys.logEntry('job_dep_1_0', 1), { data: 'first, then more' });
    expect(sent).toEqual([expect.stringMatching(/^BEGIN; INSERT INTO log_entries/), expect.stringMatching(/^SELECT bytes FROM log_entries/), expect.stringMatching(/^WITH w0 AS \(INSERT INTO log_entries .*; COMMIT$/)]);
    const bytes = Number((await store.db.get<{ n: number }>('SELECT SUM(bytes) AS n FROM log_entries'))!.n);
    expect(await readTotal(store.db, LOG_BYTES)).toBe(bytes);
  });

  it('inserts a batch of jobs in one statement and counts them in one more; a second store inserting it again writes nothing', async () => {
    const store = stores.store;
    const entries = Array.from({ length: 300 }, (_, i) => ({ key: keys.job(`job_dep_1_${i}`), value: job('pending', { spec: { ...job('pending').spec, id: `job_dep_1_${i}` }, agentId: `ag_${i}` }) }));
    expect(await store.insertMissing(entries)).toEqual(entries.map((e) => e.key));
    expect(sent).toEqual([expect.stringMatching(/^BEGIN; INSERT INTO jobs .* ON CONFLICT \(key\) DO NOTHING RETURNING key$/), expect.stringMatching(/^INSERT INTO job_counts /), 'COMMIT']);
    expect(await countsOf(store)).toEqual({ pending: 300 });
    const other = await stores.open();
    sent = [];
    expect(await other.insertMissing([...entries, { key: keys.job('job_dep_1_new'), value: job('pending', { agentId: 'ag_new' }) }])).toEqual([keys.job('job_dep_1_new')]);
    expect(sent).toHaveLength(3);
    expect(await countsOf(store)).toEqual({ pending: 301 });
  });

  it('rolls back a transaction whose last statement, sent with its COMMIT, fails; and runs nothing after that COMMIT', async () => {
    const store = stores.store;
    await store.db.run("INSERT INTO totals (name, stripe, n) VALUES ('t', 0, 1)");
    const failing = store.db.transactionSteps(function* () {
      yield* together([{ sql: 'UPDATE totals SET n = n + ? WHERE name = ?', params: [41, 't'] }]);
      yield* together([{ sql: 'INSERT INTO totals (name, stripe, n) VALUES (?, ?, ?)', params: ['u', 0, null] }], { last: true });
    });
    await expect(failing).rejects.toThrow(/null/i);
    expect(await readTotal(store.db, 't')).toBe(1);
    const after = store.db.transactionSteps(function* () {
      yield* together([{ sql: 'UPDATE totals SET n = n + ? WHERE name = ?', params: [1, 't'] }], { last: true });
      yield* together([{ sql: 'UPDATE totals SET n = n + ? WHERE name = ?', params: [100, 't'] }]);
    });
    await expect(after).rejects.toThrow("a statement after its transaction's commit");
    expect(await readTotal(store.db, 't')).toBe(2);
  });
});
