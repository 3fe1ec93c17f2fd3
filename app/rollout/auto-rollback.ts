/**
 * `onFailure: rollback`: when a rollout breaches its failure policy or times out, the last commit that succeeded in
 * the environment is deployed again, as a new deployment, to the servers that had started the failed commit.
 *
 * Two halves, so a hub killed in between neither loses the rollback nor starts two: {@link planAutoRollback} decides
 * (with the failed rollout's final write, choosing the rollback's id), and the engine starts exactly that id later
 * ({@link rollbackToStart}, {@link markRollbackStarted}) — after a restart too, because a failed rollout with an
 * unstarted rollback stays on the active list.
 */
import { randomBytes } from 'node:crypto';
import { keys, type AutoRollback, type DeploymentRecord, type JobRecord } from '../model.js';
import { lastGoodOtherThan } from '../store/deployment-queries.js';
import type { Store } from '../store/store.js';
import { truncate } from './describe-deployment.js';
import { slotKey, type EnvironmentSlot } from './environment-slot.js';
import { isoNow, type EngineContext } from './engine-context.js';

export type PlannedRollback = Extract<AutoRollback, { deploymentId: string }>;

/**
 * The servers that may have changed: every claimed job but those that ended, as reported by their agent, without
 * running a step (refused, or failed fetching or reading the instruction file). A job whose agent went silent may
 * have run anything, so it counts.
 *
 * @example
 * movedAgents(jobs); // ['ag_1', 'ag_2'] — ag_3 refused the job, ag_4 was never started
 */
export function movedAgents(jobs: JobRecord[]): string[] {
  return jobs
    .filter((job) => {
      if (job.claimedAt === undefined || job.state === 'refused') return false;
      const ran = job.events.some((e) => (e.type === 'state' && e.state === 'running') || e.type === 'step');
      const endedByAgent = job.events.some((e) => e.type === 'state' && (e.state === 'failed' || e.state === 'cancelled'));
      return ran || !endedByAgent;
    })
    .map((job) => job.agentId);
}

/**
 * The newest deployment of the environment that succeeded with another commit than `failed`'s, made before it.
 *
 * @example
 * await lastGoodDeployment(store, failed); // the `success` deployment of abc1234 two days ago
 */
export function lastGoodDeployment(store: Store, failed: DeploymentRecord): Promise<DeploymentRecord | undefined> {
  return lastGoodOtherThan(store, failed.repository, failed.environment, failed.sha, failed.createdAt);
}

/**
 * What a failing rollout does about its failure: undefined unless its strategy says `onFailure: rollback`, else the
 * rollback to start or why there is none.
 */
export async function planAutoRollback(ctx: Pick<EngineContext, 'store'>, dep: DeploymentRecord, jobs: JobRecord[]): Promise<AutoRollback | undefined> {
  // A rollback's own policy never says `rollback` (see rollbackStrategy): a failed rollback stops where it is.
  if (dep.policy?.onFailure !== 'rollback') return undefined;
  const agentIds = movedAgents(jobs);
  if (agentIds.length === 0) return { skipped: 'no server had started it' };
  const waiting = (await ctx.store.get<EnvironmentSlot>(slotKey(dep.repository, dep.environment)))?.waiting;
  if (waiting) return { skipped: `${waiting} is waiting to deploy next` };
  const good = await lastGoodDeployment(ctx.store, dep);
  if (!good) return { skipped: `no earlier commit succeeded in ${dep.environment}` };
  return { deploymentId: `dep_${randomBytes(6).toString('hex')}`, sha: good.sha, lastGood: good.id, agentIds };
}

/** The rollback a failed rollout planned and has not started yet, if any. */
export function rollbackToStart(dep: DeploymentRecord | undefined): PlannedRollback | undefined {
  const plan = dep?.autoRollback;
  return plan && 'deploymentId' in plan && !plan.startedAt ? plan : undefined;
}

/** A few words for the failed rollout's description: "rolling back 3 servers to abc1234 (dep_…)". */
export function describeAutoRollback(plan: AutoRollback): string {
  if ('skipped' in plan) return `not rolled back: ${plan.skipped}`;
  if (plan.error) return `rollback to ${plan.sha.slice(0, 7)} could not start: ${plan.error}`;
  return `rolling back ${plan.agentIds.length} server${plan.agentIds.length === 1 ? '' : 's'} to ${plan.sha.slice(0, 7)} (${plan.deploymentId})`;
}

/**
 * Records that the planned rollback exists (or why it could not be made) and takes the failed rollout off the active
 * list: from here nothing about it is left to do.
 */
export async function markRollbackStarted(ctx: Pick<EngineContext, 'store' | 'now'>, failedId: string, error?: string): Promise<DeploymentRecord | undefined> {
  const updated = await ctx.store.update<DeploymentRecord>(keys.deployment(failedId), (d) => {
    const plan = rollbackToStart(d);
    if (!d || !plan) return undefined;
    const autoRollback = { ...plan, startedAt: isoNow(ctx), ...(error ? { error } : {}) };
    // The description said "rolling back…": say instead why it did not happen.
    const description = error ? truncate(`${d.description.split(' — ')[0]} — ${describeAutoRollback(autoRollback)}`) : d.description;
    return { ...d, autoRollback, description, updatedAt: isoNow(ctx) };
  });
  return updated;
}
