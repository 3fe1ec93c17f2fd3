/**
 * What the environments pages say about one environment beyond its status (environment-status.ts): the records of
 * its live deployment and of a newer one (the rollout in progress, or the newest deployment when it is not the live
 * one), and the drift — servers not on the live commit.
 *
 * The hub records no "current release" per agent and application, so drift comes from the jobs: a server of the live
 * deployment's plan whose job there did not succeed is not on the live commit, nor is one a newer deployment has
 * reached (claimed, fetching, running, succeeded or failed there). Both are counted from the running per-deployment
 * job counters (job_counts), and a page of servers reads only its own jobs, so the cost does not grow with history or
 * with the fleet. A server that joined the group after the live deployment is not in its plan, and is not counted.
 *
 * @example
 * const facts = await readEnvironmentFacts(store, await readEnvironmentStatus(store, 'acme/shop', 'production'));
 * facts.drift; // { planned: 40, onLive: 38, notOnLive: 2 }
 */
import type { JobState } from '../../lib/protocol.js';
import { keys, type DeploymentRecord, type JobRecord } from '../model.js';
import { jobIdFor } from '../rollout/engine-context.js';
import type { ServerRow } from '../rollout/deployment-view.js';
import type { EnvironmentStatus } from '../rollout/environment-status.js';
import { countJobsByState } from '../store/job-counts.js';
import type { Store } from '../store/store.js';

/** Job states in which a newer deployment has touched a server: it no longer (surely) runs the live commit. */
const REACHED: readonly JobState[] = ['claimed', 'fetching', 'running', 'succeeded', 'failed'];

export interface Drift {
  /** Servers in the live deployment's plan. */
  planned: number;
  /** Of those, servers whose job succeeded there. */
  onLive: number;
  /** Servers not on the live commit: the live job did not succeed, or a newer deployment reached them. */
  notOnLive: number;
}

export interface EnvironmentFacts {
  status: EnvironmentStatus;
  live?: DeploymentRecord;
  /** The rollout in progress, else the newest deployment when it came after the live one. */
  newer?: DeploymentRecord;
  drift?: Drift;
}

/** Reads the live and newer deployments (by key) and their job counters. */
export async function readEnvironmentFacts(store: Store, status: EnvironmentStatus): Promise<EnvironmentFacts> {
  const newerId = status.rollout?.deploymentId ?? status.latest?.deploymentId;
  const read = async (id: string | undefined) => (id ? store.get<DeploymentRecord>(keys.deployment(id)) : undefined);
  const [live, newerRecord] = await Promise.all([read(status.live?.deploymentId), read(newerId)]);
  const newer = newerRecord && newerRecord.id !== live?.id && (!live || newerRecord.createdAt >= live.createdAt) ? newerRecord : undefined;
  if (!live) return { status, ...(newer ? { newer } : {}) };
  const [liveCounts, newerCounts] = await Promise.all([countJobsByState(store, live), newer ? countJobsByState(store, newer) : {}]);
  const planned = live.batches.reduce((n, b) => n + b.agentIds.length, 0);
  const onLive = liveCounts.succeeded ?? 0;
  const reached = REACHED.reduce((n, s) => n + ((newerCounts as Partial<Record<JobState, number>>)[s] ?? 0), 0);
  return { status, live, ...(newer ? { newer } : {}), drift: { planned, onLive, notOnLive: Math.min(planned, planned - onLive + reached) } };
}

/** What one server of the live deployment's plan runs now, as far as the jobs tell. */
export interface ServerNow {
  row: ServerRow;
  /** `live`: the live commit; `newer`: the newer deployment's commit; `moving`: the newer one is being deployed; `unknown`. */
  runs: 'live' | 'newer' | 'moving' | 'unknown';
  /** The newer deployment's job on this server, when it has one. */
  newerJob?: { id: string; state: JobState; message?: string };
}

/**
 * Each server of a page of the live deployment's servers, joined to its job in the newer deployment. The newer job's
 * id is computed from its batch (jobIdFor), found in the newer plan held in memory: one keyed read for the page.
 */
export async function readServersNow(store: Store, rows: ServerRow[], newer: DeploymentRecord | undefined): Promise<ServerNow[]> {
  const batchOf = new Map<string, number>();
  if (newer) {
    const wanted = new Set(rows.map((r) => r.agentId));
    newer.batches.slice(0, newer.currentBatch + 1).forEach((b, i) => b.agentIds.forEach((a) => wanted.has(a) && batchOf.set(a, i)));
  }
  const ids = rows.map((r) => (newer && batchOf.has(r.agentId) ? jobIdFor(newer.id, batchOf.get(r.agentId)!, r.agentId) : undefined));
  const found = await store.getMany<JobRecord>(ids.filter((id): id is string => id !== undefined).map((id) => keys.job(id)));
  let next = 0;
  const jobs = ids.map((id) => (id ? found[next++] : undefined));
  return rows.map((row, i) => {
    const job = jobs[i];
    const newerJob = job && ids[i] ? { id: ids[i]!, state: job.state, ...(job.message ? { message: job.message } : {}) } : undefined;
    const runs: ServerNow['runs'] =
      newerJob?.state === 'succeeded' ? 'newer' : newerJob && ['claimed', 'fetching', 'running'].includes(newerJob.state) ? 'moving' : newerJob?.state === 'failed' ? 'unknown' : row.state === 'succeeded' ? 'live' : 'unknown';
    return { row, runs, ...(newerJob ? { newerJob } : {}) };
  });
}
