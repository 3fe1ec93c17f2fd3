/**
 * Each agent's queue of pending job ids (`agent-queue:<agentId>`, oldest first), so finding an agent's next job
 * reads one key and a job or two instead of scanning every job.
 */
import { keys, type JobRecord } from '../model.js';
import type { Store } from '../store/store.js';
import type { JobSpec } from '../../lib/protocol.js';

/**
 * Appends a job id to the agent's queue unless it is there already (safe to repeat after a crash).
 *
 * @example
 * await enqueueJob(store, 'ag_1', 'job_ab_0_1');
 */
export async function enqueueJob(store: Store, agentId: string, jobId: string): Promise<void> {
  await store.update<string[]>(keys.agentQueue(agentId), (q) => (q?.includes(jobId) ? undefined : [...(q ?? []), jobId]));
}

/** Takes job ids out of the agent's queue (claimed, finished or gone). */
export async function dequeueJobs(store: Store, agentId: string, jobIds: string[]): Promise<void> {
  if (jobIds.length === 0) return;
  await store.update<string[]>(keys.agentQueue(agentId), (q) =>
    q?.some((id) => jobIds.includes(id)) ? q.filter((id) => !jobIds.includes(id)) : undefined,
  );
}

/**
 * The agent's oldest job still pending, or undefined. Ids in front of it that are no longer pending are dropped
 * from the queue on the way.
 *
 * @example
 * const spec = await findNextJob(store, agent.id); // JobSpec | undefined
 */
export async function findNextJob(store: Store, agentId: string): Promise<JobSpec | undefined> {
  const queue = (await store.get<string[]>(keys.agentQueue(agentId))) ?? [];
  const stale: string[] = [];
  let found: JobSpec | undefined;
  for (const jobId of queue) {
    const job = await store.get<JobRecord>(keys.job(jobId));
    if (job?.state === 'pending' && job.agentId === agentId) {
      found = job.spec;
      break;
    }
    stale.push(jobId);
  }
  await dequeueJobs(store, agentId, stale);
  return found;
}
