/**
 * The job counters and running totals kept in stripes (migration 9), on SQLite and PostgreSQL: writes of many records
 * land in several stripes and readers add them up to the records' own counts; a store of release 8 (one row per
 * counter) is counted again from its records at the upgrade, and goes on counting right after it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { keys, type AgentRecord, type JobRecord } from '../../app/model.js';
import { AGENT_COUNT, LOG_BYTES, readTotal } from '../../app/store/document-writes.js';
import { jobCountsOf } from '../../app/store/job-queries.js';
import type { SqlStore } from '../../app/store/sql-store.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

const SHA = 'a'.repeat(40);
const AT = '2026-12-05T10:00:00.000Z';

function job(n: number, state: JobRecord['state']): JobRecord {
  const id = `job_dep_1_${n}`;
  return {
    spec: { id, deploymentId: 'dep_1', repository: 'acme/shop', environment: 'staging', ref: 'main', sha: SHA, git: { url: 'https://git.test/acme/shop.git' }, instructions: 'bitenvoy.yml', createdAt: AT },
    agentId: `ag_${n}`,
    batch: n % 2,
    state,
    eventsAckedSeq: 0,
    logsAckedSeq: 0,
    events: [],
  };
}

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  let store: SqlStore;
  beforeEach(() => {
    store = stores.store;
  });

  /** 40 jobs over two batches, half of them moved on to `succeeded`; 40 log entries; 40 agents. */
  async function writeRecords(): Promise<void> {
    for (let n = 0; n < 40; n++) {
      await store.set(keys.job(`job_dep_1_${n}`), job(n, 'running'));
      if (n % 2 === 0) await store.set(keys.job(`job_dep_1_${n}`), job(n, 'succeeded'));
      const agent: AgentRecord = { id: `ag_${n}`, name: `web-${n}`, labels: {}, version: 't', credentialHash: `h${n}`, enrolledAt: AT, lastSeenAt: AT };
      await store.set(keys.agent(agent.id), agent);
      await store.set(keys.logEntry(`job_dep_1_${n}`, 0), { lines: ['x'.repeat(n)] });
    }
  }

  async function expectCountsOfRecords(): Promise<void> {
    const counts = (await jobCountsOf(store, 'dep_1')).sort((a, b) => a.batch - b.batch || a.state.localeCompare(b.state));
    expect(counts).toEqual([
      { batch: 0, state: 'succeeded', n: 20 },
      { batch: 1, state: 'running', n: 20 },
    ]);
    const bytes = Number((await store.db.get<{ n: number }>('SELECT SUM(bytes) AS n FROM log_entries'))!.n);
    expect(await readTotal(store.db, LOG_BYTES)).toBe(bytes);
    expect(await readTotal(store.db, AGENT_COUNT)).toBe(40);
  }

  it('spreads the counts of many records over stripes, which add up to the records', async () => {
    await writeRecords();
    await expectCountsOfRecords();
    const stripes = await store.db.get<{ n: number }>("SELECT COUNT(DISTINCT stripe) AS n FROM job_counts WHERE deployment_id = 'dep_1'");
    expect(Number(stripes!.n)).toBeGreaterThan(4);
  });

  it('counts a store of release 8 again from its records, then keeps counting', async () => {
    await writeRecords();
    // Release 8's tables: one row per counter, holding wrong counts (the upgrade must not trust them).
    await store.db.exec(`
      DROP TABLE job_counts;
      CREATE TABLE job_counts (deployment_id TEXT NOT NULL, batch INTEGER NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (deployment_id, batch, state));
      INSERT INTO job_counts VALUES ('dep_1', 0, 'succeeded', 3);
      DROP TABLE totals;
      CREATE TABLE totals (name TEXT PRIMARY KEY, n BIGINT NOT NULL);
      INSERT INTO totals VALUES ('agents', 7);`);
    await store.db.run('DELETE FROM schema_migrations WHERE version = 9');

    store = await stores.open();
    expect(await store.db.get('SELECT version FROM schema_migrations WHERE version = 9')).toBeDefined();
    await expectCountsOfRecords();
    // The next moves count from there: a running job succeeds, an agent goes.
    await store.set(keys.job('job_dep_1_1'), job(1, 'succeeded'));
    await store.delete(keys.agent('ag_1'));
    expect((await jobCountsOf(store, 'dep_1')).find((c) => c.batch === 1 && c.state === 'running')?.n).toBe(19);
    expect(await readTotal(store.db, AGENT_COUNT)).toBe(39);
  });
});
