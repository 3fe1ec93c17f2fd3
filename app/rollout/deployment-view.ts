/**
 * What the status page and the admin API show of a deployment. The summary (`GET /api/v1/deployments/:id`) has a size
 * that does not grow with the number of servers: counts by state, batches, the first failures. Servers come in pages
 * in plan order (`…/servers?after=`), each page reading only its own jobs and agents; a log tail is read on demand.
 *
 * @example
 * const summary = await readDeploymentSummary(store, 'dep_1a2b');
 * const page = await readServerPage(store, summary!.deployment.id, { limit: 50 });
 */
import type { JobState } from '../../lib/protocol.js';
import { readLogTail } from '../jobs/job-logs.js';
import { keys, type AgentRecord, type AutoRollback, type DeploymentRecord, type JobRecord } from '../model.js';
import { countJobs, failedJobs } from '../store/job-counts.js';
import type { Store } from '../store/store.js';
import { jobIdsUpTo } from './engine-context.js';

/** Failed or refused servers the summary lists, first in plan order. */
export const SUMMARY_FAILURES = 20;
/** Servers left out of the plan that the summary names (`skippedCount` says how many there were). */
export const SUMMARY_SKIPPED = 20;
/** Batches the summary describes one by one, around the current one (`batchCount` says how many there are). */
export const SUMMARY_BATCHES = 100;
/** Servers per page: the default and the most one page may hold. */
export const SERVER_PAGE_DEFAULT = 50;
export const SERVER_PAGE_MAX = 200;
/** Jobs one page request reads at most while looking for a state, so a rare state never reads every job at once. */
const PAGE_SCAN_MAX = 2000;
/** Log lines one tail request may ask for. */
export const LOG_LINES_MAX = 500;

export type StateCounts = Partial<Record<JobState, number>>;

/** One batch of the plan, without its agent ids. */
export interface BatchSummary {
  /** 0-based, as in job records (people see `index + 1`). */
  index: number;
  size: number;
  pauseAfter?: number | 'manual';
  /** Jobs of this batch by state; empty until the batch starts. */
  counts: StateCounts;
}

/** The deployment record with every list that grows with the number of servers replaced by a count or cut short. */
export type DeploymentSummaryRecord = Omit<DeploymentRecord, 'batches' | 'skipped' | 'autoRollback'> & {
  /** At most {@link SUMMARY_BATCHES} batches around the current one, in plan order. */
  batches: BatchSummary[];
  batchCount: number;
  /** The first {@link SUMMARY_SKIPPED} servers left out of the plan, and why. */
  skipped: DeploymentRecord['skipped'];
  skippedCount: number;
  /** The automatic rollback, with how many servers it covers instead of their ids. */
  autoRollback?: Exclude<AutoRollback, { agentIds: string[] }> | (Omit<Extract<AutoRollback, { agentIds: string[] }>, 'agentIds'> & { servers: number });
};

/** One server of a deployment: its job, as a row of the servers table. */
export interface ServerRow {
  jobId: string;
  agentId: string;
  /** The agent's name, or its id when the agent is no longer enrolled. */
  agentName: string;
  /** 0-based batch index. */
  batch: number;
  state: JobState;
  step?: JobRecord['step'];
  message?: string;
  claimedAt?: string;
  finishedAt?: string;
}

/** `GET /api/v1/deployments/:id`. */
export interface DeploymentSummary {
  deployment: DeploymentSummaryRecord;
  /** Jobs by state over the whole deployment (jobs exist from their batch's start). */
  counts: StateCounts;
  /** Up to {@link SUMMARY_FAILURES} failed or refused servers, in plan order. */
  failures: ServerRow[];
  /** How many servers the plan has (in every batch, started or not). */
  servers: number;
}

/** `GET /api/v1/deployments/:id/servers`: a page of servers in plan order; `next` is there while more may follow. */
export interface ServerPage {
  servers: ServerRow[];
  next?: string;
}

/** `GET /api/v1/deployments/:id/servers/:jobId`: one server's whole job record (events included, log not). */
export type ServerDetail = JobRecord & { id: string; agentName: string };

/** The whole deployment with every job and its log tail: for the engine's own checks and tests, never a request path. */
export interface JobView extends JobRecord {
  id: string;
  agentName: string;
  /** The last lines of the job's log (at most 50 lines and 16 Ki characters). */
  logTail: string[];
}

export interface DeploymentView {
  deployment: DeploymentRecord;
  jobs: JobView[];
}

/**
 * The deployment's summary; undefined for an unknown id. Its JSON stays the same size for 20 servers or 10,000.
 *
 * @example
 * const s = await readDeploymentSummary(store, 'dep_1a2b');
 * `${s?.counts.succeeded ?? 0}/${s?.servers} servers`;
 */
export async function readDeploymentSummary(store: Store, id: string): Promise<DeploymentSummary | undefined> {
  const dep = await store.get<DeploymentRecord>(keys.deployment(id));
  return dep && summarizeDeployment(store, dep);
}

/**
 * The summary of a deployment record already read (the status page needs the record itself too).
 *
 * @example
 * const summary = await summarizeDeployment(store, dep);
 */
export async function summarizeDeployment(store: Store, dep: DeploymentRecord): Promise<DeploymentSummary> {
  const [{ byState: counts, byBatch }, failed] = await Promise.all([countJobs(store, dep), failedJobs(store, dep, SUMMARY_FAILURES)]);
  const { batches, skipped, autoRollback, ...rest } = dep;
  const from = Math.max(0, Math.min(dep.currentBatch - SUMMARY_BATCHES / 2, batches.length - SUMMARY_BATCHES));
  const deployment: DeploymentSummaryRecord = {
    ...rest,
    batches: batches.slice(from, from + SUMMARY_BATCHES).map((b, i) => ({
      index: from + i,
      size: b.agentIds.length,
      ...(b.pauseAfter === undefined ? {} : { pauseAfter: b.pauseAfter }),
      counts: byBatch[from + i] ?? {},
    })),
    batchCount: batches.length,
    skipped: skipped.slice(0, SUMMARY_SKIPPED),
    skippedCount: skipped.length,
    ...(autoRollback ? { autoRollback: summarizeRollback(autoRollback) } : {}),
  };
  return {
    deployment,
    counts,
    failures: await toRows(store, failed.map((f) => ({ id: f.jobId, job: f.job }))),
    servers: batches.reduce((n, b) => n + b.agentIds.length, 0),
  };
}

/**
 * A page of the deployment's servers (jobs created so far) in plan order, after the position `after` (a cursor from
 * an earlier page's `next`), optionally only those in `state`. A page may hold fewer than `limit` servers while `next`
 * is set (a rare state is looked for in steps): follow `next` until it is absent.
 *
 * @example
 * let page = await readServerPage(store, dep, { limit: 50 });
 * while (page.next) page = await readServerPage(store, dep, { after: page.next, limit: 50 });
 */
export async function readServerPage(store: Store, dep: DeploymentRecord, opts: { after?: number; limit?: number; state?: JobState } = {}): Promise<ServerPage> {
  const limit = opts.limit ?? SERVER_PAGE_DEFAULT;
  const positions = planPositions(dep);
  const start = opts.after === undefined ? 0 : opts.after + 1;
  const end = Math.min(positions.length, start + (opts.state ? PAGE_SCAN_MAX : limit));
  const found: Array<{ id: string; job: JobRecord }> = [];
  let position = start;
  while (position < end && found.length < limit) {
    const ids = positions.slice(position, Math.min(end, position + (opts.state ? SERVER_PAGE_MAX : limit - found.length)));
    const jobs = await store.getMany<JobRecord>(ids.map((jobId) => keys.job(jobId)));
    for (const [i, job] of jobs.entries()) {
      if (found.length === limit) break;
      position++;
      if (job && (!opts.state || job.state === opts.state)) found.push({ id: ids[i]!, job });
    }
  }
  return { servers: await toRows(store, found), ...(position < positions.length ? { next: String(position - 1) } : {}) };
}

/**
 * One server's job with its agent's name; undefined when the job is not one of this deployment's.
 *
 * @example
 * const server = await readServerDetail(store, dep, 'job_1a2b_0_9f');
 */
export async function readServerDetail(store: Store, dep: DeploymentRecord, jobId: string): Promise<ServerDetail | undefined> {
  const job = await store.get<JobRecord>(keys.job(jobId));
  if (!job || job.spec.deploymentId !== dep.id) return undefined;
  const agent = await store.get<AgentRecord>(keys.agent(job.agentId));
  return { ...job, id: jobId, agentName: agent?.name ?? job.agentId };
}

/**
 * The last `lines` lines of one server's log (bounded as readLogTail is: at most 16 Ki characters).
 *
 * @example
 * await readServerLog(store, job, 100); // ['$ npm ci', 'added 312 packages', …]
 */
export function readServerLog(store: Store, job: JobRecord, lines: number): Promise<string[]> {
  return readLogTail(store, job, Math.min(lines, LOG_LINES_MAX));
}

/**
 * The deployment and every job created for it so far, each with its log tail, in plan order; undefined for an unknown
 * id. It grows with the number of servers: requests use the summary and pages above.
 *
 * @example
 * const view = await readDeploymentView(store, 'dep_1a2b');
 * view?.jobs.map((j) => `${j.agentName}: ${j.state}`);
 */
export async function readDeploymentView(store: Store, id: string): Promise<DeploymentView | undefined> {
  const deployment = await store.get<DeploymentRecord>(keys.deployment(id));
  if (!deployment) return undefined;
  const jobIds = jobIdsUpTo(deployment, deployment.currentBatch);
  const records = await store.getMany<JobRecord>(jobIds.map((jobId) => keys.job(jobId)));
  const names = await agentNames(store, records.flatMap((job) => (job ? [job.agentId] : [])));
  const jobs: JobView[] = [];
  for (const [i, job] of records.entries()) {
    if (!job) continue;
    // Each tail reads a bounded number of entries, however long the job's log (job-logs.ts).
    jobs.push({ ...job, id: jobIds[i]!, agentName: names.get(job.agentId) ?? job.agentId, logTail: await readLogTail(store, job) });
  }
  return { deployment, jobs };
}

/** Ids of the jobs that exist (batches 0…current), in plan order: a page's position is an index into this. */
function planPositions(dep: DeploymentRecord): string[] {
  return jobIdsUpTo(dep, dep.currentBatch);
}

async function toRows(store: Store, jobs: Array<{ id: string; job: JobRecord }>): Promise<ServerRow[]> {
  const names = await agentNames(store, jobs.map((j) => j.job.agentId));
  return jobs.map(({ id, job }) => ({
    jobId: id,
    agentId: job.agentId,
    agentName: names.get(job.agentId) ?? job.agentId,
    batch: job.batch,
    state: job.state,
    ...(job.step ? { step: job.step } : {}),
    ...(job.message ? { message: job.message } : {}),
    ...(job.claimedAt ? { claimedAt: job.claimedAt } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
  }));
}

/** Names of these agents only, by their keys (never every agent). */
async function agentNames(store: Store, agentIds: string[]): Promise<Map<string, string>> {
  const ids = [...new Set(agentIds)];
  const agents = await store.getMany<AgentRecord>(ids.map((id) => keys.agent(id)));
  return new Map(agents.flatMap((a, i) => (a ? [[ids[i]!, a.name] as const] : [])));
}

function summarizeRollback(plan: AutoRollback): DeploymentSummaryRecord['autoRollback'] {
  if ('skipped' in plan) return plan;
  const { agentIds, ...rest } = plan;
  return { ...rest, servers: agentIds.length };
}
