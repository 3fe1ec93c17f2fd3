/**
 * Counts of a deployment's jobs by state, and its failed jobs first: what the deployment summary, the status page and
 * the CLI show instead of every job. Answered from the job counters the store keeps with every job write and from
 * the index of jobs by deployment and state: the cost does not grow with the number of servers.
 */
import type { JobState } from '../../lib/protocol.js';
import type { DeploymentRecord, JobRecord } from '../model.js';
import { jobCountsOf, jobsOfDeploymentIn } from './job-queries.js';
import type { Store } from './store.js';

/** Job states that mean a server did not take the commit (shown first, as failures). */
export const FAILED_JOB_STATES: readonly JobState[] = ['failed', 'refused'];

/**
 * How many jobs of the deployment are in each state now (states with no job are absent). Jobs of batches not started
 * yet do not exist and are not counted.
 *
 * @example
 * await countJobsByState(store, dep); // { succeeded: 38, running: 2 }
 */
export async function countJobsByState(store: Store, dep: DeploymentRecord): Promise<Partial<Record<JobState, number>>> {
  return (await countJobs(store, dep)).byState;
}

/**
 * The same counts for each batch of the plan, by batch index (batches not started yet: `{}`).
 *
 * @example
 * await countJobsByBatch(store, dep); // [{ succeeded: 2 }, { running: 1, pending: 7 }, {}]
 */
export async function countJobsByBatch(store: Store, dep: DeploymentRecord): Promise<Array<Partial<Record<JobState, number>>>> {
  return (await countJobs(store, dep)).byBatch;
}

/** Both of the above from one read of the counters (a deployment's summary needs both). */
export async function countJobs(store: Store, dep: DeploymentRecord): Promise<{ byState: Partial<Record<JobState, number>>; byBatch: Array<Partial<Record<JobState, number>>> }> {
  const byState: Partial<Record<JobState, number>> = {};
  const byBatch: Array<Partial<Record<JobState, number>>> = dep.batches.map(() => ({}));
  for (const { batch, state, n } of await jobCountsOf(store, dep.id)) {
    byState[state] = (byState[state] ?? 0) + n;
    const of = byBatch[batch];
    if (of) of[state] = (of[state] ?? 0) + n;
  }
  return { byState, byBatch };
}

/**
 * Up to `limit` jobs of the deployment that failed or were refused, the earliest to end first.
 *
 * @example
 * const first = await failedJobs(store, dep, 20); // [{ jobId: 'job_1a2b_0_9f', job: { state: 'failed', … } }]
 */
export async function failedJobs(store: Store, dep: DeploymentRecord, limit: number): Promise<Array<{ jobId: string; job: JobRecord }>> {
  if (limit < 1) return [];
  return (await jobsOfDeploymentIn(store, dep.id, FAILED_JOB_STATES, limit)).map((job) => ({ jobId: job.spec.id, job }));
}
