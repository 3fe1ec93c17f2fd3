/**
 * One active rollout per environment. A deployment takes its environment's slot or waits behind the active one;
 * a newer waiting deployment supersedes an older waiting one (that one ends as `error`, "superseded by …"). When
 * the active rollout ends, the waiting one starts. The slot lives in the store, changed only by compare-and-set,
 * so two hubs or a restart in between never start two rollouts of one environment.
 *
 * @example
 * const { runNow, activeId, superseded } = await claimSlot(ctx, dep);
 */
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { keys, type DeploymentRecord } from '../model.js';
import type { EngineContext } from './engine-context.js';

export interface EnvironmentSlot {
  active?: string;
  waiting?: string;
}

export const slotKey = (repository: string, environment: string) => `env-slot:${repository}:${environment}`;

export async function claimSlot(ctx: EngineContext, dep: DeploymentRecord): Promise<{ runNow: boolean; activeId?: string; superseded?: string }> {
  const key = slotKey(dep.repository, dep.environment);
  for (;;) {
    const slot = await ctx.store.get<EnvironmentSlot>(key);
    const active = slot?.active ? await ctx.store.get<DeploymentRecord>(keys.deployment(slot.active)) : undefined;
    const free = !active || FINAL_DEPLOYMENT_STATES.includes(active.state);
    let swapped = false;
    await ctx.store.update<EnvironmentSlot>(key, (current) => {
      // Compare-and-set: someone else moved the slot since we read it — read again.
      if (JSON.stringify(current ?? null) !== JSON.stringify(slot ?? null)) return undefined;
      swapped = true;
      return free ? { active: dep.id } : { active: slot!.active!, waiting: dep.id };
    });
    if (!swapped) continue;
    if (free) return { runNow: true };
    return { runNow: false, activeId: slot!.active!, ...(slot!.waiting ? { superseded: slot!.waiting } : {}) };
  }
}

/** The active deployment ended: the waiting one, if any, becomes active; returns its id. */
export async function releaseSlot(ctx: EngineContext, dep: Pick<DeploymentRecord, 'id' | 'repository' | 'environment'>): Promise<string | undefined> {
  let next: string | undefined;
  await ctx.store.update<EnvironmentSlot>(slotKey(dep.repository, dep.environment), (slot) => {
    if (slot?.active !== dep.id) return undefined;
    next = slot.waiting;
    return next ? { active: next } : {};
  });
  return next;
}

/** Every slot, for the reconciliation after a restart. */
export async function listSlots(ctx: EngineContext): Promise<EnvironmentSlot[]> {
  return (await ctx.store.list<EnvironmentSlot>('env-slot:')).map((e) => e.value);
}
