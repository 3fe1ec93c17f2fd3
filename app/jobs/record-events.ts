/**
 * Stores an agent's state and step events on its job, in one atomic update of the job record.
 */
import type { JobEvent } from '../../lib/protocol.js';
import { keys, type JobRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { assertHolder } from './job-errors.js';
import { applyEvents, isFinal } from './job-updates.js';

export interface RecordedEvents {
  job: JobRecord;
  /** True when these events moved the job into a final state (the deployment should advance). */
  finishedNow: boolean;
  /** True when the job's state changed at all. */
  stateChanged: boolean;
  /** Set when an event skipped a sequence number: the seq the hub expects next. */
  gapAt?: number;
}

/**
 * Applies events in sequence order: already stored ones are ignored, a gap stops there, events after a final
 * state are acknowledged but change nothing.
 *
 * @example
 * const { job, gapAt } = await recordEvents(store, { agentId, jobId, claimId }, events, new Date().toISOString());
 */
export async function recordEvents(
  store: Store,
  who: { agentId: string; jobId: string; claimId: string },
  events: JobEvent[],
  nowIso: string,
): Promise<RecordedEvents> {
  const { agentId, jobId, claimId } = who;
  let before: JobRecord | undefined;
  let gapAt: number | undefined;
  const job = await store.update<JobRecord>(keys.job(jobId), (current) => {
    if (!current || current.agentId !== agentId || current.claimId !== claimId) return undefined;
    before = current;
    const result = applyEvents(current, events, nowIso);
    gapAt = result.gapAt;
    return result.job;
  });
  assertHolder(job, agentId, jobId, claimId);
  const wasState = before?.state ?? job.state;
  return {
    job,
    // A late end of a job given up for its lease counts too: it changes what the rollout's counters say.
    finishedNow: before !== undefined && isFinal(job) && (!isFinal(before) || before.state !== job.state),
    stateChanged: wasState !== job.state,
    ...(gapAt === undefined ? {} : { gapAt }),
  };
}
