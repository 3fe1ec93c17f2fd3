/**
 * The hub's side of leases: a held job whose lease ran out fails (its agent is lost or cut off), a pending job whose
 * agent went lost fails too, and after a restart every held job gets a fresh lease (hub downtime is not the
 * agent's fault).
 */
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { isHeld } from '../jobs/job-updates.js';
import { keys, type AgentRecord, type DeploymentRecord, type JobRecord } from '../model.js';
import { describeDeployment } from './describe-deployment.js';
import { unseenNote } from './unseen-agents.js';
import { rollbackToStart } from './auto-rollback.js';
import { tallyJobEnd, tallyMissing } from './job-tally.js';
import { isAgentOnline, isoNow, jobIdsUpTo, leaseUntil, listAllAgents, lostAfterMs, type EngineContext } from './engine-context.js';

/** Ids of the deployments that are not final yet. */
export async function listActiveDeploymentIds(ctx: Pick<EngineContext, 'store'>): Promise<string[]> {
  return (await ctx.store.get<string[]>(keys.activeDeployments())) ?? [];
}

/**
 * Rebuilds the active list from the deployment records: drops what a crash between two writes left behind (an id
 * whose record is gone or final, unless a rollback of it is still to start) and adds non-final deployments missing from it (stores written before the list
 * existed). One scan, at start only: it is safe only before the hub serves requests.
 *
 * @example
 * await rebuildActiveDeployments(ctx); // first thing in start()
 */
export async function rebuildActiveDeployments(ctx: Pick<EngineContext, 'store'>): Promise<void> {
  const active = (await ctx.store.list<DeploymentRecord>('deployment:'))
    .map((e) => e.value)
    // A failed rollout whose planned rollback has not started yet stays: the engine starts it.
    .filter((d) => !FINAL_DEPLOYMENT_STATES.includes(d.state) || rollbackToStart(d))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .map((d) => d.id);
  await ctx.store.update<string[]>(keys.activeDeployments(), (ids) =>
    ids && ids.length === active.length && ids.every((id, i) => id === active[i]) ? undefined : active,
  );
}

/**
 * Fails expired and never-picked-up jobs of every active deployment; returns the ids of deployments that changed
 * (the caller advances them).
 *
 * @example
 * for (const id of await expireLeases(ctx)) await engine.advance(id);
 */
export async function expireLeases(ctx: EngineContext): Promise<string[]> {
  const now = ctx.now();
  const agents = new Map((await listAllAgents(ctx.store)).map((a) => [a.id, a]));
  const changedDeployments: string[] = [];
  for (const id of await listActiveDeploymentIds(ctx)) {
    const dep = await ctx.store.get<DeploymentRecord>(keys.deployment(id));
    if (!dep || FINAL_DEPLOYMENT_STATES.includes(dep.state)) continue;
    let changed = false as boolean;
    const whyLost = (job: JobRecord): string | undefined => {
      const agent = agents.get(job.agentId);
      const name = agent?.name ?? job.agentId;
      if (isHeld(job) && Date.parse(job.leaseExpiresAt ?? '') < now) return `${name} stopped renewing its lease: agent lost or disconnected`;
      if (job.state === 'pending' && (!agent || !isAgentOnline(ctx, agent)) && now - Date.parse(job.spec.createdAt) > lostAfterMs(ctx.settings)) {
        return `${name} never picked up the job: agent lost${agent ? ` since ${agent.lastSeenAt}` : ' (no longer enrolled)'}`;
      }
      return undefined;
    };
    // One read of the rollout's jobs; a transaction only for the few that are lost.
    const jobs = (await ctx.store.getMany<JobRecord>(jobIdsUpTo(dep, dep.currentBatch).map((jobId) => keys.job(jobId)))).filter((j): j is JobRecord => j !== undefined);
    for (const seen of jobs.filter((job) => whyLost(job) !== undefined)) {
      let failedNow = false as boolean;
      const failed = await ctx.store.update<JobRecord>(keys.job(seen.spec.id), (job) => {
        const message = job && whyLost(job);
        if (!message) return undefined;
        failedNow = true;
        return { ...job, state: 'failed', finishedAt: isoNow(ctx), message };
      });
      if (failedNow && failed) {
        changed = true;
        await tallyJobEnd(ctx.store, failed);
      }
    }
    // An end a hub killed between two writes never tallied: the rollout would wait for it forever.
    if (await tallyMissing(ctx.store, id, jobs)) changed = true;
    await noteUnseenAgents(ctx, dep, jobs, agents);
    if (changed) {
      ctx.log.warn({ deploymentId: id }, 'jobs failed: their agents stopped answering');
      changedDeployments.push(id);
    }
  }
  return changedDeployments;
}

/**
 * Says in the deployment's description which servers its waiting jobs wait for in vain (see unseen-agents.ts); the
 * description changes only when that set does.
 */
async function noteUnseenAgents(ctx: EngineContext, dep: DeploymentRecord, jobs: JobRecord[], agents: Map<string, AgentRecord>): Promise<void> {
  if (dep.waitingFor || dep.gate || dep.cancelRequested) return;
  const note = unseenNote(ctx, jobs, agents);
  if (note === dep.unseen) return;
  const succeeded = jobs.filter((job) => job.state === 'succeeded').length;
  const updated = await ctx.store.update<DeploymentRecord>(keys.deployment(dep.id), (d) => {
    if (!d || FINAL_DEPLOYMENT_STATES.includes(d.state) || d.unseen === note || d.gate || d.cancelRequested) return undefined;
    const { unseen: _old, ...rest } = d;
    const next: DeploymentRecord = note ? { ...rest, unseen: note } : rest;
    return { ...next, description: describeDeployment(next, succeeded), updatedAt: isoNow(ctx) };
  });
  if (updated) ctx.onChange(updated);
}

/**
 * Gives every held job of the active deployments a lease of at least `leaseSeconds` from now. Called once at start.
 *
 * @example
 * await extendLeasesAfterRestart(ctx);
 */
export async function extendLeasesAfterRestart(ctx: EngineContext): Promise<void> {
  const floor = leaseUntil(ctx);
  for (const id of await listActiveDeploymentIds(ctx)) {
    const dep = await ctx.store.get<DeploymentRecord>(keys.deployment(id));
    if (!dep) continue;
    for (const jobId of jobIdsUpTo(dep, dep.currentBatch)) {
      await ctx.store.update<JobRecord>(keys.job(jobId), (job) =>
        job && isHeld(job) && (job.leaseExpiresAt ?? '') < floor ? { ...job, leaseExpiresAt: floor } : undefined,
      );
    }
  }
}
