/**
 * Two stores on the same data — two hub processes ("replicas") on one PostgreSQL database, or two connections to one
 * SQLite file — writing at once: no update is lost (row locks, not in-process locks), and the job counters and running
 * totals, kept in the same transactions as the records, still add up.
 */
import { describe, expect, it } from 'vitest';
import { keys, type JobRecord } from '../../app/model.js';
import { readTotal } from '../../app/store/document-writes.js';
import type { SqlStore } from '../../app/store/sql-store.js';
import type { JobState } from '../../lib/protocol.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

const DEPLOYMENT = 'dep_concurrent';

function job(i: number, state: JobState = 'pending'): JobRecord {
  const id = `job_${DEPLOYMENT}_0_${String(i).padStart(3, '0')}`;
  return { spec: { id, deploymentId: DEPLOYMENT, createdAt: '2026-11-25T10:00:00.000Z' }, agentId: `ag_${i}`, batch: 0, state, events: [] } as unknown as JobRecord;
}

/** The counters against the jobs themselves: per state, what job_counts says and what a count of the rows says. */
async function countersAndRows(store: SqlStore): Promise<{ counters: Record<string, number>; rows: Record<string, number> }> {
  const counters = await store.db.all<{ state: string; n: number }>('SELECT state, SUM(n) AS n FROM job_counts WHERE deployment_id = ? GROUP BY state HAVING SUM(n) <> 0 ORDER BY state', DEPLOYMENT);
  const rows = await store.db.all<{ state: string; n: number }>('SELECT state, COUNT(*) AS n FROM jobs WHERE deployment_id = ? GROUP BY state ORDER BY state', DEPLOYMENT);
  const byState = (list: Array<{ state: string; n: number }>) => Object.fromEntries(list.map((r) => [r.state, Number(r.n)]));
  return { counters: byState(counters), rows: byState(rows) };
}

async function total(store: SqlStore, name: string): Promise<number> {
  return readTotal(store.db, name);
}

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);

  it('loses none of 200 updates of one key from two stores at once, a record or a kv key, new or existing', async () => {
    const a = stores.store;
    const b = await stores.open();
    const increment = (store: SqlStore, key: string) => store.update<{ n: number }>(key, (current) => ({ n: (current?.n ?? 0) + 1 }));
    for (const key of ['deployment:dep_counter', 'counter:shared']) {
      await Promise.all(Array.from({ length: 200 }, (_, i) => increment(i % 2 ? a : b, key)));
      expect(await a.get(key)).toEqual({ n: 200 });
      await Promise.all(Array.from({ length: 50 }, (_, i) => increment(i % 2 ? b : a, key)));
      expect(await b.get(key)).toEqual({ n: 250 });
    }
  });

  it('deletes a key with deleteIf only while its value passes the test, never one another store just changed', async () => {
    const a = stores.store;
    const b = await stores.open();
    for (const key of ['deployment:dep_gone', 'auto-pending:gone']) {
      await a.set(key, { n: 1 });
      expect(await b.deleteIf<{ n: number }>(key, (v) => v.n === 0)).toBe(false);
      expect(await a.get(key)).toEqual({ n: 1 });
      expect(await b.deleteIf<{ n: number }>(key, (v) => v.n === 1)).toBe(true);
      expect(await a.get(key)).toBeUndefined();
      expect(await b.deleteIf(key, () => true)).toBe(false);
      // Raced: the change comes first (nothing deleted) or the delete does (the change writes it anew): {n: 2} either way.
      for (let i = 0; i < 20; i++) {
        await a.set(key, { n: 1 });
        await Promise.all([b.deleteIf<{ n: number }>(key, (v) => v.n === 1), a.update<{ n: number }>(key, () => ({ n: 2 }))]);
        expect(await a.get(key)).toEqual({ n: 2 });
      }
    }
  });

  it('keeps the job counters true while two stores create and move the same jobs at once', async () => {
    const a = stores.store;
    const b = await stores.open();
    const jobs = Array.from({ length: 40 }, (_, i) => job(i));
    const entries = jobs.map((j) => ({ key: keys.job(j.spec.id), value: j }));
    // Both replicas make the batch's jobs (each inserts what is missing), while some jobs are already being claimed.
    const claim = (store: SqlStore, key: string) => store.update<JobRecord>(key, (j) => (j?.state === 'pending' ? { ...j, state: 'claimed' } : undefined));
    await Promise.all([a.insertMissing(entries), b.insertMissing(entries), ...entries.slice(0, 10).map((e, i) => claim(i % 2 ? a : b, e.key))]);
    // A claim that ran before its job existed found nothing to claim: how many were claimed depends on the race.
    const made = await countersAndRows(a);
    expect((made.rows.pending ?? 0) + (made.rows.claimed ?? 0)).toBe(40);
    expect(made.counters).toEqual(made.rows);
    // Every job claimed (both replicas race for each), run, and ended; some ended twice by a plain set from both.
    await Promise.all(entries.flatMap((e) => [claim(a, e.key), claim(b, e.key)]));
    const step = (store: SqlStore, key: string, from: JobState, to: JobState) => store.update<JobRecord>(key, (j) => (j?.state === from ? { ...j, state: to } : undefined));
    await Promise.all(entries.flatMap((e, i) => [step(i % 2 ? a : b, e.key, 'claimed', 'running'), step(i % 2 ? b : a, e.key, 'claimed', 'running')]));
    await Promise.all(
      entries.flatMap((e, i): Array<Promise<unknown>> => {
        const end: JobState = i % 5 === 0 ? 'failed' : 'succeeded';
        return i % 3 === 0 ? [a.set(e.key, { ...jobs[i]!, state: end }), b.set(e.key, { ...jobs[i]!, state: end })] : [step(a, e.key, 'running', end), step(b, e.key, 'running', end)];
      }),
    );
    const { counters, rows } = await countersAndRows(a);
    expect(rows).toEqual({ failed: 8, succeeded: 32 });
    expect(counters).toEqual(rows);
    // Deleting from both at once takes each job out of its counter once.
    await Promise.all(entries.slice(0, 20).flatMap((e) => [a.delete(e.key), b.delete(e.key)]));
    const after = await countersAndRows(b);
    expect(after.rows).toEqual({ failed: 4, succeeded: 16 });
    expect(after.counters).toEqual(after.rows);
  });

  it('keeps the running totals (agents, log bytes) true under writes of the same records from two stores', async () => {
    const a = stores.store;
    const b = await stores.open();
    // The same 30 new agents enrolled through both, 10 more through one of them.
    const agent = (i: number) => ({ key: keys.agent(`ag_${i}`), value: { id: `ag_${i}`, name: `web-${i}` } });
    await Promise.all([...Array.from({ length: 30 }, (_, i) => [a.set(agent(i).key, agent(i).value), b.set(agent(i).key, agent(i).value)]).flat(), ...Array.from({ length: 10 }, (_, i) => a.set(agent(30 + i).key, agent(30 + i).value))]);
    expect(await total(a, 'agents')).toBe(40);
    await Promise.all(Array.from({ length: 15 }, (_, i) => [a.delete(agent(i).key), b.delete(agent(i).key)]).flat());
    expect(await total(b, 'agents')).toBe(25);
    expect(Number((await a.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM agents'))!.n)).toBe(25);

    // Log entries written, rewritten with other sizes and deleted from both stores at once.
    const entry = (i: number, size: number) => ({ key: keys.logEntry(`job_${i % 4}`, i), value: { seq: i, data: 'x'.repeat(size) } });
    await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).set(entry(i, 10 + i).key, entry(i, 10 + i).value)));
    await Promise.all(Array.from({ length: 60 }, (_, i) => [a.set(entry(i, 100).key, entry(i, 100).value), b.set(entry(i, 200 + i).key, entry(i, 200 + i).value)]).flat());
    await Promise.all(Array.from({ length: 20 }, (_, i) => [a.delete(entry(i, 0).key), b.delete(entry(i, 0).key)]).flat());
    const summed = Number((await a.db.get<{ n: number }>('SELECT COALESCE(SUM(bytes), 0) AS n FROM log_entries'))!.n);
    expect(Number((await a.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM log_entries'))!.n)).toBe(40);
    expect(await total(a, 'log_bytes')).toBe(summed);
  });
});
