/**
 * Heartbeats write only the agents' `last_seen_at` column (200 a second with 10,000 agents); every way of reading an
 * agent takes its lastSeenAt from there — on SQLite and on PostgreSQL.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { keys, type AgentRecord, type JobRecord } from '../../app/model.js';
import { agentByCredential, agentsById, agentsNotSeenSince, pageOfAgents, recordLastSeen } from '../../app/store/agent-queries.js';
import { pendingJobsOfLostAgents } from '../../app/store/job-queries.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

const ENROLLED = '2026-12-05T10:00:00.000Z';
const SEEN = '2026-12-05T11:00:00.000Z';

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  beforeEach(async () => {
    await stores.store.set(keys.agent('ag_1'), { id: 'ag_1', name: 'web-1', labels: {}, credentialHash: 'h1', enrolledAt: ENROLLED, lastSeenAt: ENROLLED } as unknown as AgentRecord);
  });

  it('moves lastSeenAt forward without rewriting the record, and never back', async () => {
    const { store } = stores;
    await recordLastSeen(store, new Map([['ag_1', SEEN]]));
    await recordLastSeen(store, new Map([['ag_1', '2026-12-05T10:30:00.000Z']]));
    // The stored document still says what enrollment wrote: only the column moved.
    const raw = await store.db.get<{ doc: string; last_seen_at: string }>('SELECT doc, last_seen_at FROM agents WHERE key = ?', keys.agent('ag_1'));
    expect((JSON.parse(raw!.doc) as AgentRecord).lastSeenAt).toBe(ENROLLED);
    expect(raw!.last_seen_at).toBe(SEEN);

    expect((await store.get<AgentRecord>(keys.agent('ag_1')))!.lastSeenAt).toBe(SEEN);
    expect((await store.list<AgentRecord>('agent:'))[0]!.value.lastSeenAt).toBe(SEEN);
    expect((await agentsById(store, ['ag_1'])).get('ag_1')!.lastSeenAt).toBe(SEEN);
    expect((await agentByCredential(store, 'h1'))!.lastSeenAt).toBe(SEEN);
    expect((await pageOfAgents(store, { limit: 10 })).agents[0]!.lastSeenAt).toBe(SEEN);
    expect((await agentsNotSeenSince(store, '2026-12-06T00:00:00.000Z', 10))[0]!.lastSeenAt).toBe(SEEN);
    await store.set(keys.job('job_1'), { agentId: 'ag_1', state: 'pending', batch: 0, spec: { id: 'job_1', deploymentId: 'dep_1', createdAt: ENROLLED } } as unknown as JobRecord);
    expect((await pendingJobsOfLostAgents(store, '2026-12-06T00:00:00.000Z', '2026-12-06T00:00:00.000Z', 10))[0]!.agent!.lastSeenAt).toBe(SEEN);

    // A change of the record through update() keeps the heartbeat it read.
    await store.update<AgentRecord>(keys.agent('ag_1'), (a) => a && { ...a, labels: { role: 'web' } });
    expect((await store.get<AgentRecord>(keys.agent('ag_1')))!.lastSeenAt).toBe(SEEN);
  });

  it('writes a batch larger than one statement: every agent moves forward, none back, unknown agents are ignored', async () => {
    const { store } = stores;
    const ids = Array.from({ length: 1200 }, (_, i) => `ag_b${String(i).padStart(4, '0')}`);
    await store.insertMissing(ids.map((id) => ({ key: keys.agent(id), value: { id, name: id, labels: {}, credentialHash: `h-${id}`, enrolledAt: ENROLLED, lastSeenAt: ENROLLED } as unknown as AgentRecord })));
    // Even agents were seen later already: the batch's older time must not move them back.
    await recordLastSeen(store, new Map(ids.filter((_, i) => i % 2 === 0).map((id) => [id, '2026-12-05T12:00:00.000Z'])));
    await recordLastSeen(store, new Map([...ids.map((id): [string, string] => [id, SEEN]), ['ag_unknown', SEEN]]));
    const rows = await store.db.all<{ key: string; last_seen_at: string }>("SELECT key, last_seen_at FROM agents WHERE key LIKE 'agent:ag_b%' ORDER BY key");
    expect(rows).toHaveLength(1200);
    rows.forEach((row, i) => expect([row.key, row.last_seen_at]).toEqual([keys.agent(ids[i]!), i % 2 === 0 ? '2026-12-05T12:00:00.000Z' : SEEN]));
    expect(await store.get(keys.agent('ag_unknown'))).toBeUndefined();
  });
});
