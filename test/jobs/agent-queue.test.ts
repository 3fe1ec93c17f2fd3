import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findNextJob } from '../../app/jobs/agent-queue.js';
import { keys, type JobRecord } from '../../app/model.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-queue-'));
  store = await openStore({ dataDir: dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function putJob(id: string, agentId: string, state: JobRecord['state'], createdAt: string): Promise<void> {
  const spec = { id, deploymentId: 'dep_1', repository: 'acme/shop', environment: 'staging', ref: 'main', sha: 'a'.repeat(40), git: { url: 'x' }, instructions: 'bitenvoy.yml', createdAt };
  await store.set<JobRecord>(keys.job(id), { spec, agentId, batch: 0, state, eventsAckedSeq: 0, logsAckedSeq: 0, events: [] });
}

describe('agent queue (the index of pending jobs)', () => {
  it('gives the oldest pending job of the agent, skipping those no longer pending', async () => {
    await putJob('job_1', 'ag_a', 'succeeded', '2026-12-01T10:00:00.000Z');
    await putJob('job_3', 'ag_a', 'pending', '2026-12-01T10:00:03.000Z');
    await putJob('job_2', 'ag_a', 'pending', '2026-12-01T10:00:02.000Z');
    expect((await findNextJob(store, 'ag_a'))?.id).toBe('job_2');
    await store.update<JobRecord>(keys.job('job_2'), (job) => job && { ...job, state: 'claimed' });
    expect((await findNextJob(store, 'ag_a'))?.id).toBe('job_3');
    expect(await findNextJob(store, 'ag_b')).toBeUndefined();
  });

  it('never hands out a job of another agent', async () => {
    await putJob('job_9', 'ag_b', 'pending', '2026-12-01T10:00:00.000Z');
    expect(await findNextJob(store, 'ag_a')).toBeUndefined();
    expect((await findNextJob(store, 'ag_b'))?.id).toBe('job_9');
  });
});
