/**
 * Counts of a deployment's jobs by state, and its failed jobs first: what the deployment summary, the status page and
 * the CLI show instead of every job. Kept as small functions with these exact names and signatures so that the
 * store with a schema can answer them from indexed counters instead of reading every job of the deployment.
 */
import type { JobState } from '../../lib/protocol.js';
import { keys, type DeploymentRecord, type JobRecord } from '../model.js';
import { jobIdsUpTo } from '../rollout/engine-context.js';
import type { Store } from './store.js';

/** Job states that mean a server did not take the commit (shown first, as failures). */
export const FAILED_JOB_STATES: readonly JobState[] = ['failed', 'refused'];

/** How many of the jobs to read per getMany, so a 10,000-server deployment is not one huge statement. */
const READ_CHUNK = 500;

/**
 * How many jobs of the deployment are in each state now (states with no job are absent). Jobs of batches not started
 * yet do not exist and are not counted.
 *
 * @example
 * await countJobsByState(store, dep); // { succeeded: 38, running: 2 }
 */
export async function countJobsByState(store: Store, dep: DeploymentRecord): Promise<Partial<Record<JobState, number>>> {
  const counts: Partial<Record<JobState, number>> = {};
  await eachJob(store, dep, (_id, job) => {
    counts[job.state] = (counts[job.state] ?? 0) + 1;
    return true;
  });
  return counts;
}

/**
 * The same counts for each batch of the plan, by batch index (batches not started yet: `{}`).
 *
 * @example
 * await countJobsByBatch(store, dep); // [{ succeeded: 2 }, { running: 1, pending: 7 }, {}]
 */
export async function countJobsByBatch(store: Store, dep: DeploymentRecord): Promise<Array<Partial<Record<JobState, number>>>> {
  const counts: Array<Partial<Record<JobState, number>>> = dep.batches.map(() => ({}));
  await eachJob(store, dep, (_id, job) => {
    const batch = counts[job.batch];
    if (batch) batch[job.state] = (batch[job.state] ?? 0) + 1;
    return true;
  });
  return counts;
}

/**
 * Up to `limit` jobs of the deployment that failed or were refused, in plan order.
 *
 * @example
 * const first = await failedJobs(store, dep, 20); // [{ jobId: 'job_1a2b_0_9f', job: { state: 'failed', … } }]
 */
export async function failedJobs(store: Store, dep: DeploymentRecord, limit: number): Promise<Array<{ jobId: string; job: JobRecord }>> {
  const found: Array<{ jobId: string; job: JobRecord }> = [];
  if (limit < 1) return found;
  await eachJob(store, dep, (jobId, job) => {
    if (FAILED_JOB_STATES.includes(job.state)) found.push({ jobId, job });
    return found.length < limit;
  });
  return found;
}

/** Calls `visit` for each existing job in plan order until it returns false. */
async function eachJob(store: Store, dep: DeploymentRecord, visit: (jobId: string, job: JobRecord) => boolean): Promise<void> {
  const ids = jobIdsUpTo(dep, dep.currentBatch);
  for (let start = 0; start < ids.length; start += READ_CHUNK) {
    const chunk = ids.slice(start, start + READ_CHUNK);
    const jobs = await store.getMany<JobRecord>(chunk.map((id) => keys.job(id)));
    for (const [i, job] of jobs.entries()) if (job && !visit(chunk[i]!, job)) return;
  }
}
