/**
 * The queries behind the agents pages, on SQLite and PostgreSQL: agents online or lost by name, page by page, each
 * exactly once; an agent's latest jobs newest first, bounded, never another agent's — and on SQLite, read from the
 * index jobs_by_agent rather than a scan of every job.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { keys, type AgentRecord, type JobRecord } from '../../app/model.js';
import { pageOfAgentsIn } from '../../app/store/agent-queries.js';
import { latestJobsOfAgent } from '../../app/store/job-queries.js';
import type { Store } from '../../app/store/store.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

const LOST_BEFORE = '2026-12-01T10:00:00.000Z';

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  let store: Store;
  beforeEach(() => {
    store = stores.store;
  });

  async function agent(n: number, lastSeenAt: string): Promise<string> {
    const id = `ag_${n}`;
    const record: AgentRecord = { id, name: `web-${String(n).padStart(2, '0')}`, labels: {}, version: 't', credentialHash: id, enrolledAt: lastSeenAt, lastSeenAt };
    await store.set(keys.agent(id), record);
    return record.name;
  }

  it('pages online and lost agents by name, each exactly once', async () => {
    const online: string[] = [];
    const lost: string[] = [];
    for (let n = 0; n < 11; n++) {
      if (n % 3) online.push(await agent(n, '2026-12-01T10:05:00.000Z'));
      else lost.push(await agent(n, '2026-12-01T09:00:00.000Z'));
    }
    for (const [state, expected] of [['online', online], ['lost', lost]] as const) {
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await pageOfAgentsIn(store, { state, lostBeforeIso: LOST_BEFORE, limit: 2, ...(after ? { after } : {}) });
        seen.push(...page.agents.map((a) => a.name));
        if (!page.next) break;
        after = page.next;
      }
      expect(seen).toEqual(expected);
    }
  });

  it("reads an agent's latest jobs newest first, at most the limit, none of another agent's", async () => {
    for (let i = 0; i < 30; i++) {
      const job = { agentId: i % 2 ? 'ag_a' : 'ag_b', batch: 0, state: 'succeeded', spec: { id: `job_${i}`, deploymentId: `dep_${i}`, createdAt: new Date(Date.parse(LOST_BEFORE) + i * 1000).toISOString() } };
      await store.set(keys.job(`job_${i}`), job as unknown as JobRecord);
    }
    const latest = await latestJobsOfAgent(store, 'ag_a', 5);
    expect(latest.map((j) => j.spec.id)).toEqual(['job_29', 'job_27', 'job_25', 'job_23', 'job_21']);
    if (backend.name === 'sqlite') {
      const plan = await store.db.all<{ detail: string }>('EXPLAIN QUERY PLAN SELECT doc FROM jobs WHERE agent_id = ? ORDER BY created_at DESC, key DESC LIMIT ?', 'ag_a', 5);
      expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING INDEX jobs_by_agent/);
      expect(plan.map((p) => p.detail).join('\n')).not.toMatch(/TEMP B-TREE/);
    }
  });
});
