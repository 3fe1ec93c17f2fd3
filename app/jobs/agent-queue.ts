/**
 * An agent's queue is the index of its pending jobs (`jobs_pending_by_agent`): finding its next job reads one
 * index entry, whatever the size of the fleet or of history.
 */
import type { JobSpec } from '../../lib/protocol.js';
import { nextPendingJob, nextPendingJobs } from '../store/job-queries.js';
import type { Store } from '../store/store.js';

/**
 * The agent's oldest job still pending, or undefined.
 *
 * @example
 * const spec = await findNextJob(store, agent.id); // JobSpec | undefined
 */
export function findNextJob(store: Store, agentId: string): Promise<JobSpec | undefined> {
  return nextPendingJob(store, agentId);
}

/**
 * The agent's oldest job still pending, and whether it is its only pending job (two index entries read, not one).
 *
 * @example
 * const { job, only } = await findNextJobAndMore(store, agent.id); // only: nothing else waits behind it
 */
export async function findNextJobAndMore(store: Store, agentId: string): Promise<{ job: JobSpec | undefined; only: boolean }> {
  const [job, after] = await nextPendingJobs(store, agentId, 2);
  return { job, only: job !== undefined && after === undefined };
}
