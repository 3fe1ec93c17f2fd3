/**
 * A job waits for an agent that is not there: its server went away (powered off, network cut, agent stopped). The
 * hub counts it lost only after three heartbeat intervals (180 s by default); until then the deployment would sit
 * `queued` with no hint. This says which servers it waits for, since when, and when they count as lost — as one
 * note that changes only when the set of missing servers does, so GitHub statuses are not re-sent every second.
 *
 * @example
 * unseenNote(ctx, jobs, agents); // 'web-1 not seen since 10:00:05 UTC (lost after 180 s)'
 */
import type { AgentRecord, JobRecord } from '../model.js';
import { lostAfterMs, type EngineContext } from './engine-context.js';

/**
 * A connected agent claims a queued job within moments (its long poll is woken): a job waiting longer than this for
 * an agent silent as long is waiting for a server that is not there.
 */
export const UNSEEN_AFTER_MS = 15_000;

export function unseenNote(ctx: Pick<EngineContext, 'now' | 'settings'>, jobs: JobRecord[], agents: Map<string, AgentRecord>): string | undefined {
  const now = ctx.now();
  const missing = jobs
    .filter((job) => job.state === 'pending' && now - Date.parse(job.spec.createdAt) > UNSEEN_AFTER_MS)
    .map((job) => agents.get(job.agentId))
    .filter((agent): agent is AgentRecord => agent !== undefined && now - Date.parse(agent.lastSeenAt) > UNSEEN_AFTER_MS)
    .sort((a, b) => a.lastSeenAt.localeCompare(b.lastSeenAt) || a.name.localeCompare(b.name));
  if (!missing.length) return undefined;
  const names = missing.length <= 2 ? missing.map((a) => a.name).join(' and ') : `${missing[0]!.name}, ${missing[1]!.name} and ${missing.length - 2} more`;
  const since = missing[0]!.lastSeenAt.replace('T', ' ').replace(/(:\d\d)(\.\d+)?Z$/, '$1 UTC');
  return `${names} not seen since ${since} (lost after ${Math.round(lostAfterMs(ctx.settings) / 1000)} s)`;
}
