/**
 * The errors an agent gets back about one job. A job of another agent answers exactly like a job that does not
 * exist, so an agent learns nothing about jobs that are not its own.
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { JobRecord } from '../model.js';

export function jobNotFound(jobId: string): BitEnvoyError {
  return new BitEnvoyError('BE_NOT_FOUND', `no job ${jobId} for this agent; take job ids from GET /jobs/next`);
}

export function jobClaimedElsewhere(jobId: string): BitEnvoyError {
  return new BitEnvoyError('BE_JOB_CLAIMED', `job ${jobId} is held under another claimId; only the claim that won may run and report on it`);
}

export function jobFinished(jobId: string, job: JobRecord): BitEnvoyError {
  return new BitEnvoyError('BE_JOB_FINISHED', `job ${jobId} already ended (${job.state}${job.message ? `: ${job.message}` : ''}); stop working on it`);
}

export function seqGap(jobId: string, what: 'event' | 'log chunk', expectedSeq: number): BitEnvoyError {
  return new BitEnvoyError('BE_SEQ_GAP', `job ${jobId}: ${what} sequence numbers skip ahead; resend from ${expectedSeq}`, { details: { expectedSeq } });
}

/**
 * Throws unless the job exists, belongs to `agentId` and is held under `claimId`.
 *
 * @example
 * assertHolder(await store.get<JobRecord>(keys.job(id)), agentId, id, claimId);
 */
export function assertHolder(job: JobRecord | undefined, agentId: string, jobId: string, claimId: string): asserts job is JobRecord {
  if (!job || job.agentId !== agentId) throw jobNotFound(jobId);
  if (job.claimId !== claimId) throw jobClaimedElsewhere(jobId);
}
