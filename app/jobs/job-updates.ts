/**
 * Pure updates of a job record by what its agent reports. Sequence numbers make every report idempotent: a number
 * already stored is ignored, the next one is applied, and a gap stops the batch so the agent resends from there.
 */
import { FINAL_JOB_STATES, type JobEvent } from '../../lib/protocol.js';
import { withoutCredentials } from '../../lib/redact-url.js';
import type { JobRecord } from '../model.js';

/** Most events kept per job; an agent sends a handful per step. */
const MAX_EVENTS = 1000;

export interface ApplyResult {
  job: JobRecord;
  /** Set when an event's seq skipped ahead: the next seq the hub expects. */
  gapAt?: number;
}

export function applyEvents(job: JobRecord, events: JobEvent[], nowIso: string): ApplyResult {
  const next = structuredClone(job);
  // Agents take credentials out of URLs themselves, but not every agent does (older ones): nothing the hub keeps, and
  // so no page, status description or audit entry, holds one.
  for (const event of [...events].sort((a, b) => a.seq - b.seq).map(withoutCredentialsInMessage)) {
    if (event.seq <= next.eventsAckedSeq) continue;
    if (event.seq !== next.eventsAckedSeq + 1) return { job: next, gapAt: next.eventsAckedSeq + 1 };
    next.eventsAckedSeq = event.seq;
    if (next.events.length < MAX_EVENTS) next.events.push(event);
    if (isFinal(next)) {
      // The hub gave the job up when its lease ran out, but the agent was alive and says how it really ended: that
      // is recorded as what happened, so the rollout's outcome and its failure policy count the truth.
      if (next.lostAt && next.state === 'failed' && event.type === 'state' && FINAL_JOB_STATES.includes(event.state)) {
        const late = Math.max(0, Math.round((Date.parse(nowIso) - Date.parse(next.lostAt)) / 1000));
        next.state = event.state;
        next.message = `${event.state} ${late} s after its lease ran out${event.message ? `: ${event.message}` : ''}`;
        next.finishedAt = nowIso;
        delete next.lostAt;
      }
      continue; // other events after the end are acknowledged, never acted on
    }
    if (event.type === 'state') {
      next.state = event.state;
      if (event.message !== undefined) next.message = event.message;
      if (isFinal(next)) next.finishedAt = nowIso;
    } else {
      next.step = { index: event.step.index, name: event.step.name, status: event.status };
    }
  }
  return { job: next };
}

function withoutCredentialsInMessage(event: JobEvent): JobEvent {
  return event.message === undefined ? event : { ...event, message: withoutCredentials(event.message) };
}

export function isFinal(job: Pick<JobRecord, 'state'>): boolean {
  return FINAL_JOB_STATES.includes(job.state);
}

/** A job the agent holds (claimed and not finished): the states whose lease matters. */
export function isHeld(job: Pick<JobRecord, 'state'>): boolean {
  return job.state === 'claimed' || job.state === 'fetching' || job.state === 'running';
}
