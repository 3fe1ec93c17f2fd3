/**
 * The per-environment guard rails every rollout passes, whatever asked for it (the API, auto-deploy, a pull-request
 * command, a GitHub deployment made by another tool, a rollback): a lock on the environment stops it, and the
 * promotion order (`after:`) takes only a commit already live on the environment before. The engine applies them
 * where every rollout starts; commands ask first only to answer before creating anything.
 *
 * @example
 * const refusals = await guardRailRefusals(store, { repository: 'acme/shop', environment: 'production', sha, after: 'staging' });
 * if (refusals.length) throw guardRailError('production', sha, refusals);
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { howToUnlock, type HubMode } from './action-hints.js';
import { activeLock, describeLock } from './environment-locks.js';
import { latestSuccessful } from '../store/deployment-queries.js';

export interface GuardedRollout {
  repository: string;
  environment: string;
  sha: string;
  /** The environment's promotion order: the commit must be live there first. */
  after?: string | undefined;
  /** A rollback brings back a commit that was live before: the promotion order does not apply to it. */
  rollback?: boolean;
  /**
   * How the refusal says to release a lock: the way that works in the hub's mode (action-hints.ts); without it, as a
   * reply to a pull-request command (`/unlock production`).
   */
  mode?: HubMode;
}

/** Why the environment's guard rails hold this rollout back; empty when nothing does. */
export async function guardRailRefusals(store: Parameters<typeof activeLock>[0], rollout: GuardedRollout, now = Date.now()): Promise<string[]> {
  const refusals: string[] = [];
  const lock = await activeLock(store, rollout.repository, rollout.environment, now);
  if (lock) refusals.push(`${describeLock(lock)}; ${rollout.mode ? howToUnlock(rollout.mode, lock) : `\`/unlock ${lock.environment ?? '--global'}\` releases it`}`);
  if (rollout.after && !rollout.rollback) {
    const live = await latestSuccessful(store, rollout.repository, rollout.after);
    if (live?.sha !== rollout.sha) {
      refusals.push(
        `\`${rollout.environment}\` takes only commits live on \`${rollout.after}\` first; \`${rollout.after}\` runs ${live ? `\`${live.sha.slice(0, 7)}\`` : 'nothing yet'}, this is \`${rollout.sha.slice(0, 7)}\``,
      );
    }
  }
  return refusals;
}

/** The error a rollout held back by its guard rails ends with: 409, every reason in one sentence. */
export function guardRailError(environment: string, sha: string, refusals: string[]): BitEnvoyError {
  return new BitEnvoyError('BE_GUARD_RAIL', `cannot deploy \`${sha.slice(0, 7)}\` to \`${environment}\`: ${refusals.join('; ')}`, { details: { refusals } });
}
