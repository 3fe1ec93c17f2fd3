/**
 * Environment locks: `/lock production "db migration"` stops every deployment of that environment — commands and
 * auto-deploys alike — until `/unlock` or until the environment's `lockTimeout`; `--global` locks every environment
 * of the repository. A lock says who, when and why.
 *
 * @example
 * const lock = await activeLock(store, 'acme/shop', 'production');
 * if (lock) refuse(describeLock(lock));
 */
import type { Store } from '../store/store.js';

export interface EnvironmentLock {
  repository: string;
  /** Absent for a global lock. */
  environment?: string;
  by: string;
  reason?: string;
  at: string;
  expiresAt?: string;
}

const GLOBAL = '*';
const lockKey = (repository: string, environment: string | undefined) => `lock:${repository}:${environment ?? GLOBAL}`;

/** The lock that holds an environment now (its own, else the repository's global one); expired locks are dropped. */
export async function activeLock(store: Store, repository: string, environment: string, now = Date.now()): Promise<EnvironmentLock | undefined> {
  for (const key of [lockKey(repository, environment), lockKey(repository, undefined)]) {
    const lock = await store.get<EnvironmentLock>(key);
    if (!lock) continue;
    if (lock.expiresAt && Date.parse(lock.expiresAt) <= now) {
      await store.delete(key);
      continue;
    }
    return lock;
  }
  return undefined;
}

/** Takes a lock; an existing one of someone else is kept and returned instead. */
export async function takeLock(store: Store, lock: EnvironmentLock, now = Date.now()): Promise<{ taken: boolean; lock: EnvironmentLock }> {
  let held: EnvironmentLock | undefined;
  await store.update<EnvironmentLock>(lockKey(lock.repository, lock.environment), (current) => {
    if (current && !(current.expiresAt && Date.parse(current.expiresAt) <= now) && current.by !== lock.by) {
      held = current;
      return undefined;
    }
    return lock;
  });
  return held ? { taken: false, lock: held } : { taken: true, lock };
}

export async function releaseLock(store: Store, repository: string, environment: string | undefined): Promise<EnvironmentLock | undefined> {
  const key = lockKey(repository, environment);
  const lock = await store.get<EnvironmentLock>(key);
  if (lock) await store.delete(key);
  return lock;
}

/** "locked by @octocat since 2026-11-25 10:00 UTC: db migration (until …)". */
export function describeLock(lock: EnvironmentLock): string {
  const where = lock.environment ? `\`${lock.environment}\` is locked` : 'every environment is locked (global lock)';
  const since = lock.at.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
  const until = lock.expiresAt ? ` until ${lock.expiresAt.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC')}` : '';
  return `${where} by @${lock.by} since ${since}${until}${lock.reason ? `: ${lock.reason}` : ''}`;
}

/** Every lock in force now (expired ones left out), for the status page. */
export async function listLocks(store: Store, now = Date.now()): Promise<EnvironmentLock[]> {
  return (await store.list<EnvironmentLock>('lock:')).map((e) => e.value).filter((l) => !l.expiresAt || Date.parse(l.expiresAt) > now);
}
