/**
 * Claiming a job and renewing its lease. Both are one atomic `store.update` of the job record, so two agents (or
 * two retries of one agent) racing for a job can never both win.
 */
import type { LeaseResponse } from '../../lib/protocol.js';
import { keys, type JobRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { assertHolder, jobClaimedElsewhere, jobFinished, jobNotFound } from './job-errors.js';
import { isFinal, isHeld } from './job-updates.js';

export interface LeaseClock {
  store: Store;
  now: () => number;
  settings: { leaseSeconds: number };
}

/**
 * Claims a pending job for `agentId` under `claimId`. A retry with the same claimId answers the same claim again;
 * another claimId gets 409 BE_JOB_CLAIMED, a finished job 409 BE_JOB_FINISHED, a job of another agent 404.
 * `firstClaim` is true only for the call that actually took the job.
 *
 * @example
 * const { job, firstClaim } = await claimJob(ctx, 'ag_1', 'job_ab_0_1', 'cl_x');
 */
export async function claimJob(ctx: LeaseClock, agentId: string, jobId: string, claimId: string): Promise<{ job: JobRecord; firstClaim: boolean }> {
  let firstClaim = false;
  const at = new Date(ctx.now());
  const leaseExpiresAt = new Date(at.getTime() + ctx.settings.leaseSeconds * 1000).toISOString();
  const job = await ctx.store.update<JobRecord>(keys.job(jobId), (current) => {
    if (!current || current.agentId !== agentId || current.state !== 'pending') return undefined;
    firstClaim = true;
    return { ...current, state: 'claimed', claimId, claimedAt: at.toISOString(), leaseExpiresAt };
  });
  if (!job || job.agentId !== agentId) throw jobNotFound(jobId);
  if (firstClaim) return { job, firstClaim };
  if (isFinal(job)) throw jobFinished(jobId, job);
  if (job.claimId !== claimId) throw jobClaimedElsewhere(jobId);
  return { job, firstClaim };
}

/**
 * Extends the lease of a job the agent holds. A finished job answers 409 BE_JOB_FINISHED: the agent stops.
 *
 * @example
 * const lease = await renewLease(ctx, 'ag_1', 'job_ab_0_1', 'cl_x'); // { leaseExpiresAt, leaseSeconds, cancelRequested }
 */
export async function renewLease(ctx: LeaseClock, agentId: string, jobId: string, claimId: string): Promise<LeaseResponse> {
  const leaseExpiresAt = new Date(ctx.now() + ctx.settings.leaseSeconds * 1000).toISOString();
  const job = await ctx.store.update<JobRecord>(keys.job(jobId), (current) =>
    current && current.agentId === agentId && current.claimId === claimId && isHeld(current) ? { ...current, leaseExpiresAt } : undefined,
  );
  assertHolder(job, agentId, jobId, claimId);
  if (isFinal(job)) throw jobFinished(jobId, job);
  return leaseOf(ctx, job);
}

/** The lease as the agent API answers it. */
export function leaseOf(ctx: LeaseClock, job: JobRecord): LeaseResponse {
  return {
    leaseExpiresAt: job.leaseExpiresAt ?? new Date(ctx.now()).toISOString(),
    leaseSeconds: ctx.settings.leaseSeconds,
    cancelRequested: job.cancelRequested ?? false,
  };
}
