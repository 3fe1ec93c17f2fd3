/**
 * A real hub started with BITENVOY_DATABASE_URL on a fresh PostgreSQL database (real config repo over git HTTP, real
 * agents in this process): it migrates the empty database, answers /healthz, and runs a deployment to two servers to
 * the end — the jobs, counters, log byte total and heartbeats all in PostgreSQL, no SQLite file made.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollAgent } from '../../agent/enroll-agent.js';
import { runAgent } from '../../agent/run-agent.js';
import { createEnrollToken } from '../../app/enroll/create-enroll-token.js';
import { keys, type AgentRecord } from '../../app/model.js';
import { openStore } from '../../app/store/open-store.js';
import { AGENT_COUNT, LOG_BYTES, readTotal } from '../../app/store/document-writes.js';
import type { SqlStore } from '../../app/store/sql-store.js';
import { silentLogger } from '../../lib/logger.js';
import { createTestDatabase, databaseUrl, dropTestDatabase, STORE_BACKENDS } from '../helpers/store-backends.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

const postgres = STORE_BACKENDS.find((b) => b.name === 'postgres')!;

describe.skipIf(postgres.unavailable !== undefined)('a hub on PostgreSQL', () => {
  const database = `bitenvoy_test_hub_${process.pid}_${Date.now().toString(36)}`;
  let t: TestHub;
  let store: SqlStore;
  const agents: Array<{ controller: AbortController; done: Promise<void> }> = [];

  beforeAll(async () => {
    await createTestDatabase(database);
    t = await startTestHub({ BITENVOY_DATABASE_URL: databaseUrl(database), BITENVOY_POLL_WAIT_SECONDS: '1' });
    store = await openStore({ dataDir: t.dataDir, database: { url: databaseUrl(database) } });
  });
  afterAll(async () => {
    for (const agent of agents.splice(0)) {
      agent.controller.abort();
      await agent.done;
    }
    await store?.close();
    await t?.close();
    await dropTestDatabase(database);
  });

  async function startAgent(name: string): Promise<string> {
    const { token } = await createEnrollToken(store, { createdBy: 'test' });
    const dir = join(t.root, 'agents', name);
    await enrollAgent({ hub: t.url, token, name, labels: { role: 'web' }, dir, log: silentLogger() });
    const controller = new AbortController();
    agents.push({ controller, done: runAgent({ dir, log: silentLogger(), signal: controller.signal, backoff: { baseMs: 50, capMs: 200 } }) });
    return name;
  }

  it('migrates the empty database and answers /healthz, without a SQLite file', async () => {
    const health = await t.call('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ ok: true, mode: 'local' });
    expect(store.location).toBe(`PostgreSQL postgres://postgres@${new URL(databaseUrl(database)).host}/${database}`);
    expect((await store.db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(existsSync(join(t.dataDir, 'hub.sqlite'))).toBe(false);
  });

  it('runs a deployment to two real agents to success, its counters, logs and heartbeats in PostgreSQL', async () => {
    await startAgent('pg-web-1');
    await startAgent('pg-web-2');
    const created = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/shop', ref: 'main', environment: 'staging' } });
    expect(created.status).toBe(201);
    const id = created.json.deployment.id as string;
    await expect.poll(async () => (await t.call('GET', `/api/v1/deployments/${id}`, { token: ADMIN_TOKEN })).json.deployment.state, { timeout: 20_000, interval: 100 }).toBe('success');
    const view = await t.viewDeployment(id);
    expect(view.jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
    expect(view.jobs[0]!.logTail.join('\n')).toContain('build output looks right');

    const counts = await store.db.all<{ state: string; n: number }>('SELECT state, SUM(n) AS n FROM job_counts WHERE deployment_id = ? GROUP BY state HAVING SUM(n) > 0', id);
    expect(counts).toEqual([{ state: 'succeeded', n: 2 }]);
    const logBytes = { n: await readTotal(store.db, LOG_BYTES) };
    const summed = await store.db.get<{ n: number }>('SELECT COALESCE(SUM(bytes), 0) AS n FROM log_entries');
    expect(logBytes!.n).toBeGreaterThan(0);
    expect(logBytes!.n).toBe(summed!.n);
    expect(await readTotal(store.db, AGENT_COUNT)).toBe(2);
    // Heartbeats moved the indexed column, which every read of an agent takes its lastSeenAt from.
    const seenSinceEnrolling = async () => (await store.list<AgentRecord>('agent:')).map((r) => r.value).filter((a) => a.lastSeenAt > a.enrolledAt).length;
    // An agent's heartbeat is noted once its last one is 5 s old, and written within 2 s (agent-auth.ts).
    await expect.poll(seenSinceEnrolling, { timeout: 15_000, interval: 200 }).toBe(2);
    const rows = await store.db.all<{ key: string; last_seen_at: string }>('SELECT key, last_seen_at FROM agents ORDER BY key');
    for (const row of rows) {
      const agent = await store.get<AgentRecord>(row.key);
      expect(agent!.lastSeenAt).toBe(row.last_seen_at);
      expect(agent!.name).toMatch(/^pg-web-[12]$/);
      expect(keys.agent(agent!.id)).toBe(row.key);
    }
  });
});
