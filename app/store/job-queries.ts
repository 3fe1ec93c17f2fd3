/**
 * Named queries over jobs: each reads an index, so its cost depends on what it returns, not on the fleet or on
 * history.
 *
 * @example
 * const spec = await nextPendingJob(store, 'ag_9f');          // the agent's oldest pending job
 * const due = await jobsWithLeaseBefore(store, now, 500);     // held jobs whose lease ran out
 */
import type { JobSpec, JobState } from '../../lib/protocol.js';
import type { AgentRecord, JobRecord } from '../model.js';
import { agentFromRow } from './agent-queries.js';
import type { Store } from './store.js';

interface DocRow {
  doc: string;
}

const parse = (rows: DocRow[]): JobRecord[] => rows.map((row) => JSON.parse(row.doc) as JobRecord);

/** The agent's oldest job still pending (partial index `jobs_pending_by_agent`). */
export async function nextPendingJob(store: Store, agentId: string): Promise<JobSpec | undefined> {
  return (await nextPendingJobs(store, agentId, 1))[0];
}

/** The agent's oldest `limit` jobs still pending, oldest first (the same index). */
export async function nextPendingJobs(store: Store, agentId: string, limit: number): Promise<JobSpec[]> {
  const rows = await store.db.all<DocRow>("SELECT doc FROM jobs WHERE agent_id = ? AND state = 'pending' ORDER BY created_at, key LIMIT ?", agentId, limit);
  return rows.map((row) => (JSON.parse(row.doc) as JobRecord).spec);
}

/** Held jobs (claimed, fetching, running) whose lease ran out before `beforeIso`, oldest lease first. */
export async function jobsWithLeaseBefore(store: Store, beforeIso: string, limit: number): Promise<JobRecord[]> {
  return parse(await store.db.all<DocRow>('SELECT doc FROM jobs WHERE lease_expires_at IS NOT NULL AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?', beforeIso, limit));
}

/** Pending jobs of one agent (a lost agent's waiting work). */
export async function pendingJobsOf(store: Store, agentId: string, limit: number): Promise<JobRecord[]> {
  return parse(await store.db.all<DocRow>("SELECT doc FROM jobs WHERE agent_id = ? AND state = 'pending' ORDER BY created_at, key LIMIT ?", agentId, limit));
}

/** The deployment's jobs pending since before `beforeIso` (waiting longer than a connected agent would let them). */
export async function pendingJobsOfDeploymentBefore(store: Store, deploymentId: string, beforeIso: string, limit: number): Promise<JobRecord[]> {
  return parse(
    await store.db.all<DocRow>("SELECT doc FROM jobs WHERE deployment_id = ? AND state = 'pending' AND created_at < ? ORDER BY created_at LIMIT ?", deploymentId, beforeIso, limit),
  );
}

/**
 * Pending jobs created before `createdBeforeIso` whose agent was not seen since `seenBeforeIso` or is no longer
 * enrolled (index jobs_pending_by_age: a connected agent claims its job within moments, so these are few).
 */
export async function pendingJobsOfLostAgents(store: Store, createdBeforeIso: string, seenBeforeIso: string, limit: number): Promise<Array<{ job: JobRecord; agent?: AgentRecord }>> {
  const rows = await store.db.all<{ doc: string; agent: string | null; seen: string | null }>(
    `SELECT j.doc AS doc, a.doc AS agent, a.last_seen_at AS seen FROM jobs j LEFT JOIN agents a ON a.key = 'agent:' || j.agent_id
     WHERE j.state = 'pending' AND j.created_at < ? AND (a.key IS NULL OR a.last_seen_at < ?) ORDER BY j.created_at LIMIT ?`,
    createdBeforeIso,
    seenBeforeIso,
    limit,
  );
  return rows.map((row) => ({ job: JSON.parse(row.doc) as JobRecord, ...(row.agent ? { agent: agentFromRow(row.agent, row.seen) } : {}) }));
}

export interface JobCount {
  batch: number;
  state: JobState;
  n: number;
}

/** How many jobs of the deployment are in each state, per batch (the counters kept with every job write). */
export async function jobCountsOf(store: Store, deploymentId: string): Promise<JobCount[]> {
  // The counters' stripes added up (migration 9).
  const rows = await store.db.all<JobCount>('SELECT batch, state, SUM(n) AS n FROM job_counts WHERE deployment_id = ? GROUP BY batch, state HAVING SUM(n) > 0', deploymentId);
  return rows.map((r) => ({ batch: Number(r.batch), state: r.state, n: Number(r.n) }));
}

/** Jobs of the deployment in the given states, the earliest finished first (index `jobs_by_deployment`). */
export async function jobsOfDeploymentIn(store: Store, deploymentId: string, states: readonly JobState[], limit: number): Promise<JobRecord[]> {
  // One ordered index range per state (deployment, state, finished_at, key), merged here: a summary's 20 failures
  // of a rollout with 10,000 read 20 rows per state, never sort them all.
  const rows: Array<{ doc: string; finished_at: string | null; key: string }> = [];
  for (const state of states) {
    rows.push(
      ...(await store.db.all<{ doc: string; finished_at: string | null; key: string }>(
        'SELECT doc, finished_at, key FROM jobs WHERE deployment_id = ? AND state = ? ORDER BY finished_at, key LIMIT ?',
        deploymentId,
        state,
        limit,
      )),
    );
  }
  rows.sort((a, b) => (a.finished_at ?? '').localeCompare(b.finished_at ?? '') || a.key.localeCompare(b.key));
  return parse(rows.slice(0, limit));
}

/** Every job of the deployment (for work done once per rollout, such as planning its rollback). */
export async function jobsOfDeployment(store: Store, deploymentId: string): Promise<JobRecord[]> {
  return parse(await store.db.all<DocRow>('SELECT doc FROM jobs WHERE deployment_id = ? ORDER BY key', deploymentId));
}

/** The agent's latest jobs, newest first (index jobs_by_agent): what its server ran lately, however long its history. */
export async function latestJobsOfAgent(store: Store, agentId: string, limit: number): Promise<JobRecord[]> {
  return parse(await store.db.all<DocRow>('SELECT doc FROM jobs WHERE agent_id = ? ORDER BY created_at DESC, key DESC LIMIT ?', agentId, limit));
}
