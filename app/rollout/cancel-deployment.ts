/**
 * Cancels a rollout: no new server starts, jobs not yet claimed are cancelled at once, and every agent holding a job
 * learns at its next lease renewal (a third of the lease at most) that it must stop; the agent then sends SIGTERM to
 * the running step's whole process group, SIGKILL after a grace period, and reports `cancelled`. The rollout ends
 * `cancelled` ("cancelled by …") once nothing runs any more. A rollout still waiting for its environment simply
 * ends.
 *
 * @example
 * await cancelDeployment(ctx, 'dep_1a2b', 'octocat'); // then engine.advance('dep_1a2b')
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { FINAL_DEPLOYMENT_STATES, JOB_STATES, FINAL_JOB_STATES } from '../../lib/protocol.js';
import { isFinal, isHeld } from '../jobs/job-updates.js';
import { keys, type DeploymentRecord, type JobRecord } from '../model.js';
import { jobsOfDeploymentIn } from '../store/job-queries.js';
import { isoNow, type EngineContext } from './engine-context.js';
import { slotKey, type EnvironmentSlot } from './environment-slot.js';

const OPEN_STATES = JOB_STATES.filter((s) => !FINAL_JOB_STATES.includes(s));

export async function cancelDeployment(ctx: EngineContext, id: string, by: string): Promise<DeploymentRecord> {
  const dep = await ctx.store.get<DeploymentRecord>(keys.deployment(id));
  if (!dep) throw new BitEnvoyError('BE_NOT_FOUND', `no deployment ${id}`);
  if (FINAL_DEPLOYMENT_STATES.includes(dep.state)) {
    throw new BitEnvoyError('BE_CONFLICT', `deployment ${id} already ended (${dep.state}: ${dep.description}); there is nothing to cancel`);
  }
  const now = isoNow(ctx);
  const updated = (await ctx.store.update<DeploymentRecord>(keys.deployment(id), (d) => {
    if (!d || FINAL_DEPLOYMENT_STATES.includes(d.state) || d.cancelRequested) return undefined;
    return { ...d, cancelRequested: { by, at: now }, description: `cancelling (asked by ${by})`, updatedAt: now };
  }))!;
  if (dep.waitingFor) {
    // Never started: it leaves the queue and ends at once.
    await ctx.store.update<EnvironmentSlot>(slotKey(dep.repository, dep.environment), (slot) => (slot?.waiting === id ? { ...(slot.active ? { active: slot.active } : {}) } : undefined));
    return updated;
  }
  // Only the jobs still open (an index read): those that ended are left alone.
  for (const open of await jobsOfDeploymentIn(ctx.store, id, OPEN_STATES, Number.MAX_SAFE_INTEGER)) {
    await ctx.store.update<JobRecord>(keys.job(open.spec.id), (j) => {
      if (!j || isFinal(j)) return undefined;
      if (isHeld(j)) return j.cancelRequested ? undefined : { ...j, cancelRequested: true };
      return { ...j, state: 'cancelled', message: `cancelled by ${by} before it started`, finishedAt: now };
    });
  }
  ctx.log.info({ deploymentId: id, by }, 'deployment cancel requested');
  ctx.onChange(updated);
  return updated;
}
