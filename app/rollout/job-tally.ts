/**
 * Which jobs of a deployment have ended, and how, in one small record per deployment: advancing a rollout after each
 * job's end reads this instead of every job record, so a 1,000-server batch costs 1,000 small reads instead of a
 * million job reads.
 *
 * The tally is written after the job record itself (two writes, not one transaction). A hub killed in between leaves
 * a job that ended but is not tallied; so every process rebuilds a deployment's tally from its job records the first
 * time it advances it, and the lease check (which reads every job of an active rollout anyway) adds any end the
 * tally lacks.
 *
 * @example
 * await tallyJobEnd(ctx.store, job);              // wherever a job becomes final
 * const ended = await readTally(ctx, dep);        // { job_…: 'succeeded', job_…: 'failed' }
 */
import { isFinal } from '../jobs/job-updates.js';
import { keys, type DeploymentRecord, type JobRecord } from '../model.js';
import { jobIdsUpTo, type EngineContext } from './engine-context.js';

/** Job id → how it ended: `succeeded`, or `failed` for every other final state (failed, refused, cancelled). */
export type JobTally = Record<string, 'succeeded' | 'failed'>;

const tallyKey = (deploymentId: string) => `job-tally:${deploymentId}`;

function outcomeOf(job: Pick<JobRecord, 'state'>): 'succeeded' | 'failed' {
  return job.state === 'succeeded' ? 'succeeded' : 'failed';
}

/** Records that `job` ended (no-op when it has not, or is tallied already). */
export async function tallyJobEnd(store: EngineContext['store'], job: JobRecord): Promise<void> {
  if (!isFinal(job)) return;
  await store.update<JobTally>(tallyKey(job.spec.deploymentId), (tally) => (tally?.[job.spec.id] ? undefined : { ...tally, [job.spec.id]: outcomeOf(job) }));
}

/** Adds the ends of `jobs` the tally lacks in one write; true when it lacked any. */
export async function tallyMissing(store: EngineContext['store'], deploymentId: string, jobs: JobRecord[]): Promise<boolean> {
  let added = false as boolean;
  await store.update<JobTally>(tallyKey(deploymentId), (tally) => {
    const missing = jobs.filter((job) => isFinal(job) && !tally?.[job.spec.id]);
    if (missing.length === 0) return undefined;
    added = true;
    return { ...tally, ...Object.fromEntries(missing.map((job) => [job.spec.id, outcomeOf(job)])) };
  });
  return added;
}

/**
 * The deployment's tally. The first call for a deployment in this process reads its job records and adds what the
 * tally lacks (see above); later calls read the tally alone.
 */
export async function readTally(ctx: Pick<EngineContext, 'store' | 'talliedDeployments'>, dep: DeploymentRecord): Promise<JobTally> {
  if (!ctx.talliedDeployments.has(dep.id)) {
    const jobs = await ctx.store.getMany<JobRecord>(jobIdsUpTo(dep, dep.currentBatch).map((id) => keys.job(id)));
    await tallyMissing(ctx.store, dep.id, jobs.filter((job): job is JobRecord => job !== undefined));
    ctx.talliedDeployments.add(dep.id);
  }
  return (await ctx.store.get<JobTally>(tallyKey(dep.id))) ?? {};
}

/** Forgets a finished deployment's tally and this process's note of it. */
export async function dropTally(ctx: Pick<EngineContext, 'store' | 'talliedDeployments'>, deploymentId: string): Promise<void> {
  ctx.talliedDeployments.delete(deploymentId);
  await ctx.store.delete(tallyKey(deploymentId));
}
