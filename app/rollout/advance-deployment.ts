/**
 * Moves a deployment forward by what its jobs say: creates the next batch once every job of the current one
 * succeeded, finishes with `success` after the last, or with `failure` once a job failed and none is still active.
 *
 * Safe to call any number of times, from anywhere, after any crash: the deployment record's `currentBatch` (moved
 * only forward, with `store.update`) is the gate, and job ids derived from deployment, batch and agent make
 * re-creating a job a no-op.
 */
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { enqueueJob } from '../jobs/agent-queue.js';
import { isFinal } from '../jobs/job-updates.js';
import { keys, type DeploymentRecord, type JobRecord } from '../model.js';
import { describeDeployment, failureDescription, truncate } from './describe-deployment.js';
import { isoNow, jobIdFor, jobIdsUpTo, listAllAgents, type EngineContext } from './engine-context.js';

/**
 * Advances one deployment as far as its jobs allow.
 *
 * @example
 * await advanceDeployment(ctx, 'dep_1a2b'); // after a job of it finished
 */
export async function advanceDeployment(ctx: EngineContext, id: string): Promise<void> {
  let dep = await ctx.store.get<DeploymentRecord>(keys.deployment(id));
  if (!dep || FINAL_DEPLOYMENT_STATES.includes(dep.state) || dep.waitingFor) return;
  if (dep.currentBatch < 0) dep = await moveToBatch(ctx, dep, 0);
  for (;;) {
    await ensureBatchJobs(ctx, dep, dep.currentBatch);
    const jobs = await readJobs(ctx, dep);
    const failed = jobs.filter((j) => isFinal(j) && j.state !== 'succeeded');
    const active = jobs.filter((j) => !isFinal(j));
    if (failed.length && active.length === 0) {
      const agents = new Map((await listAllAgents(ctx.store)).map((a) => [a.id, a]));
      return finish(ctx, dep, 'failure', failureDescription(failed, agents));
    }
    const current = dep.currentBatch;
    const batchDone = jobs.filter((j) => j.batch === current).every((j) => j.state === 'succeeded');
    if (failed.length || !batchDone) return describe(ctx, dep, jobs);
    if (current + 1 >= dep.batches.length) {
      return finish(ctx, dep, 'success', `${jobs.length}/${jobs.length} servers succeeded`);
    }
    dep = await moveToBatch(ctx, dep, current + 1);
  }
}

async function moveToBatch(ctx: EngineContext, dep: DeploymentRecord, batch: number): Promise<DeploymentRecord> {
  const updated = await ctx.store.update<DeploymentRecord>(keys.deployment(dep.id), (d) =>
    d && d.currentBatch < batch ? { ...d, currentBatch: batch, updatedAt: isoNow(ctx) } : undefined,
  );
  return updated ?? dep;
}

/** Creates the batch's jobs that do not exist yet, makes sure pending ones are queued, and wakes their agents. */
async function ensureBatchJobs(ctx: EngineContext, dep: DeploymentRecord, batch: number): Promise<void> {
  // Older records lack gitUrl/instructions: fall back to the config in force.
  const repo = ctx.config(dep.repository)?.repositories[dep.repository];
  for (const agentId of dep.batches[batch]?.agentIds ?? []) {
    const jobId = jobIdFor(dep.id, batch, agentId);
    const job = await ctx.store.update<JobRecord>(keys.job(jobId), (current) =>
      current
        ? undefined
        : {
            spec: {
              id: jobId,
              deploymentId: dep.id,
              repository: dep.repository,
              environment: dep.environment,
              ref: dep.ref,
              sha: dep.sha,
              git: { url: dep.gitUrl ?? dep.github?.cloneUrl ?? repo?.git ?? '' },
              instructions: dep.instructions ?? repo?.instructions ?? 'bitenvoy.yml',
              createdAt: isoNow(ctx),
            },
            agentId,
            batch,
            state: 'pending',
            eventsAckedSeq: 0,
            logsAckedSeq: 0,
            events: [],
          },
    );
    if (job?.state === 'pending') {
      await enqueueJob(ctx.store, agentId, jobId);
      ctx.notifier.notify(agentId);
    }
  }
}

async function readJobs(ctx: EngineContext, dep: DeploymentRecord): Promise<JobRecord[]> {
  const jobs: JobRecord[] = [];
  for (const id of jobIdsUpTo(dep, dep.currentBatch)) {
    const job = await ctx.store.get<JobRecord>(keys.job(id));
    if (job) jobs.push(job);
  }
  return jobs;
}

async function describe(ctx: EngineContext, dep: DeploymentRecord, jobs: JobRecord[]): Promise<void> {
  const description = describeDeployment(dep, jobs);
  if (description === dep.description) return;
  let changed = false as boolean;
  const updated = await ctx.store.update<DeploymentRecord>(keys.deployment(dep.id), (d) => {
    if (!d || FINAL_DEPLOYMENT_STATES.includes(d.state) || d.description === description) return undefined;
    changed = true;
    return { ...d, description, updatedAt: isoNow(ctx) };
  });
  if (changed && updated) ctx.onChange(updated);
}

async function finish(ctx: EngineContext, dep: DeploymentRecord, state: 'success' | 'failure', description: string): Promise<void> {
  let finishedNow = false as boolean;
  const finished = await ctx.store.update<DeploymentRecord>(keys.deployment(dep.id), (d) => {
    if (!d || FINAL_DEPLOYMENT_STATES.includes(d.state)) return undefined;
    finishedNow = true;
    return { ...d, state, description: truncate(description), finishedAt: isoNow(ctx), updatedAt: isoNow(ctx) };
  });
  await ctx.store.update<string[]>(keys.activeDeployments(), (ids) => (ids?.includes(dep.id) ? ids.filter((x) => x !== dep.id) : undefined));
  if (!finishedNow || !finished) return;
  ctx.onChange(finished);
  ctx.log.info({ deploymentId: dep.id, state, description: finished.description }, 'deployment finished');
}
