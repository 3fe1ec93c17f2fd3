import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enqueueJob, findNextJob } from '../../app/jobs/agent-queue.js';
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

async function putJob(id: string, agentId: string, state: JobRecord['state']): Promise<void> {
  const spec = { id, deploymentId: 'dep_1', repository: 'acme/shop', environment: 'staging', ref: 'main', sha: 'a'.repeat(40), git: { url: 'x' }, instructions: 'bitenvoy.yml', createdAt: '' };
  await store.set<JobRecord>(keys.job(id), { spec, agentId, batch: 0, state, eventsAckedSeq: 0, logsAckedSeq: 0, events: [] });
}

describe('agent queue', () => {
  it('gives the oldest pending job, dropping ids in front of it that are no longer pending', async () => {
    await putJob('job_1', 'ag_a', 'succeeded');
    await putJob('job_2', 'ag_a', 'pending');
    await putJob('job_3', 'ag_a', 'pending');
    for (const id of ['job_1', 'job_gone', 'job_2', 'job_3', 'job_2']) await enqueueJob(store, 'ag_a', id);
    expect(await store.get(keys.agentQueue('ag_a'))).toEqual(['job_1', 'job_gone', 'job_2', 'job_3']);
    expect((await findNextJob(store, 'ag_a'))?.id).toBe('job_2');
    expect(await store.get(keys.agentQueue('ag_a'))).toEqual(['job_2', 'job_3']);
    expect(await findNextJob(store, 'ag_b')).toBeUndefined();
  });

  it('never hands out a job of another agent, even if its id is queued', async () => {
    await putJob('job_9', 'ag_b', 'pending');
    await enqueueJob(store, 'ag_a', 'job_9');
    expect(await findNextJob(store, 'ag_a')).toBeUndefined();
  });
});
