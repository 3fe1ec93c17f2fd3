/**
 * The hub's side of leases: a held job whose lease ran out fails (its agent is lost or cut off), a pending job whose
 * agent went lost fails too, and after a restart every held job gets a fresh lease (hub downtime is not the
 * agent's fault).
 *
 * Every check reads an index of what is due — leases that ran out, agents silent too long — so a tick costs the
 * same with 10 or 10,000 agents and nothing happening. Work is taken in bounded pages, yielding between them.
 */
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { isHeld } from '../jobs/job-updates.js';
import { keys, type AgentRecord, type DeploymentRecord, type JobRecord } from '../model.js';
import { agentsById } from '../store/agent-queries.js';
import { activeDeploymentIds } from '../store/deployment-queries.js';
import { jobsWithLeaseBefore, pendingJobsOfDeploymentBefore, pendingJobsOfLostAgents } from '../store/job-queries.js';
import { describeDeployment } from './describe-deployment.js';
import { UNSEEN_AFTER_MS, unseenNote } from './unseen-agents.js';
import { isAgentOnline, isoNow, leaseUntil, lostAfterMs, type EngineContext } from './engine-context.js';

/** Rows taken per query: the check yields to the event loop between pages. */
const PAGE = 500;

/** Ids of the deployments that are not final yet (the `active` index). */
export function listActiveDeploymentIds(ctx: Pick<EngineContext, 'store'>): Promise<string[]> {
  return activeDeploymentIds(ctx.store);
}

/**
 * Fails held jobs whose lease ran out and pending jobs whose agent is lost or removed; returns the ids of the
 * deployments that changed (the caller advances them).
 *
 * @example
 * for (const id of await expireLeases(ctx)) await engine.advance(id);
 */
export async function expireLeases(ctx: EngineContext): Promise<string[]> {
  const now = ctx.now();
  const changed = new Set<string>();
  const fail = async (candidate: JobRecord, agent: AgentRecord | undefined): Promise<void> => {
    const whyLost = (job: JobRecord): string | undefined => {
      const name = agent?.name ?? job.agentId;
      if (isHeld(job) && Date.parse(job.leaseExpiresAt ?? '') < now) return `${name} stopped renewing its lease: agent lost or disconnected`;
      if (job.state === 'pending' && (!agent || !isAgentOnline(ctx, agent)) && now - Date.parse(job.spec.createdAt) > lostAfterMs(ctx.settings)) {
        return `${name} never picked up the job: agent lost${agent ? ` since ${agent.lastSeenAt}` : ' (no longer enrolled)'}`;
      }
      return undefined;
    };
    let failedNow = false as boolean;
    await ctx.store.update<JobRecord>(keys.job(candidate.spec.id), (job) => {
      const message = job && whyLost(job);
      if (!message) return undefined;
      failedNow = true;
      return { ...job, state: 'failed', finishedAt: isoNow(ctx), message, ...(isHeld(job) ? { lostAt: isoNow(ctx) } : {}) };
    });
    if (failedNow) changed.add(candidate.spec.deploymentId);
  };

  // Held jobs whose lease ran out, oldest first, a page at a time (each page is failed before the next is read).
  const nowIso = new Date(now).toISOString();
  for (;;) {
    const due = await jobsWithLeaseBefore(ctx.store, nowIso, PAGE);
    if (due.length === 0) break;
    const agents = await agentsById(ctx.store, due.map((job) => job.agentId));
    for (const job of due) await fail(job, agents.get(job.agentId));
    if (due.length < PAGE) break;
    await yieldToEventLoop();
  }

  // Pending jobs older than the lost threshold whose agent is silent as long, or removed (few: agents that went away).
  const lostBefore = new Date(now - lostAfterMs(ctx.settings)).toISOString();
  for (const { job, agent } of await pendingJobsOfLostAgents(ctx.store, lostBefore, lostBefore, PAGE)) await fail(job, agent);

  for (const id of changed) ctx.log.warn({ deploymentId: id }, 'jobs failed: their agents stopped answering');
  return [...changed];
}

/**
 * Says in each active deployment's description which servers its waiting jobs wait for in vain (see
 * unseen-agents.ts); the description changes only when that set does. Reads the agents silent for
 * {@link UNSEEN_AFTER_MS} (an index) and, per active deployment, only its pending jobs. Returns the deployments it
 * read, as they are now, so that the caller's check of the same tick does not read them again.
 */
export async function noteUnseenAgents(ctx: EngineContext, activeIds: string[]): Promise<Map<string, DeploymentRecord>> {
  const read = new Map<string, DeploymentRecord>();
  if (activeIds.length === 0) return read;
  // A connected agent claims its job within moments: only jobs pending longer than UNSEEN_AFTER_MS are read.
  const oldBefore = new Date(ctx.now() - UNSEEN_AFTER_MS).toISOString();
  for (const id of activeIds) {
    const dep = await ctx.store.get<DeploymentRecord>(keys.deployment(id));
    if (dep) read.set(id, dep);
    if (!dep || FINAL_DEPLOYMENT_STATES.includes(dep.state) || dep.waitingFor || dep.gate || dep.cancelRequested) continue;
    const waiting = await pendingJobsOfDeploymentBefore(ctx.store, id, oldBefore, PAGE);
    const agents = waiting.length ? await agentsById(ctx.store, waiting.map((job) => job.agentId)) : new Map<string, AgentRecord>();
    const note = unseenNote(ctx, waiting, agents);
    if (note === dep.unseen) continue;
    const succeeded = await countSucceeded(ctx, id);
    const updated = await ctx.store.update<DeploymentRecord>(keys.deployment(dep.id), (d) => {
      if (!d || FINAL_DEPLOYMENT_STATES.includes(d.state) || d.unseen === note || d.gate || d.cancelRequested) return undefined;
      const { unseen: _old, ...rest } = d;
      const next: DeploymentRecord = note ? { ...rest, unseen: note } : rest;
      return { ...next, description: describeDeployment(next, succeeded), updatedAt: isoNow(ctx) };
    });
    if (updated) {
      read.set(id, updated);
      ctx.onChange(updated);
    }
  }
  return read;
}

async function countSucceeded(ctx: EngineContext, deploymentId: string): Promise<number> {
  const rows = await ctx.store.db.all<{ n: number }>("SELECT COALESCE(SUM(n), 0) AS n FROM job_counts WHERE deployment_id = ? AND state = 'succeeded'", deploymentId);
  return Number(rows[0]?.n ?? 0);
}

/**
 * Gives every held job a lease of at least `leaseSeconds` from now. Called once at start: the hub was down, the
 * agents were not.
 *
 * @example
 * await extendLeasesAfterRestart(ctx);
 */
export async function extendLeasesAfterRestart(ctx: EngineContext): Promise<void> {
  const floor = leaseUntil(ctx);
  for (;;) {
    const short = await jobsWithLeaseBefore(ctx.store, floor, PAGE);
    for (const held of short) {
      await ctx.store.update<JobRecord>(keys.job(held.spec.id), (job) => (job && isHeld(job) && (job.leaseExpiresAt ?? '') < floor ? { ...job, leaseExpiresAt: floor } : undefined));
    }
    if (short.length < PAGE) return;
    await yieldToEventLoop();
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

