/**
 * What is live in each environment: the newest deployment that succeeded there, kept under one key per environment
 * so that the promotion order (`after:`) and the commands read it in one step, however long the history.
 *
 * @example
 * await recordLive(store, dep);                                 // when dep ends `success`
 * (await liveDeployment(store, 'acme/shop', 'staging'))?.sha;   // the commit staging runs
 */
import type { DeploymentRecord } from '../model.js';
import type { Store } from '../store/store.js';

export interface LiveCommit {
  deploymentId: string;
  sha: string;
  /** When its rollout ended. */
  at: string;
}

const liveKey = (repository: string, environment: string) => `live:${repository}:${environment}`;
/** Set once the live keys were built from the deployment records (stores written before they existed). */
const BUILT = 'live:built:v1';

/** Records that `dep` is what its environment runs now. */
export async function recordLive(store: Store, dep: DeploymentRecord): Promise<void> {
  await store.set<LiveCommit>(liveKey(dep.repository, dep.environment), { deploymentId: dep.id, sha: dep.sha, at: dep.finishedAt ?? dep.updatedAt });
}

/** The newest deployment that succeeded in the environment, if any. */
export async function liveDeployment(store: Store, repository: string, environment: string): Promise<LiveCommit | undefined> {
  return store.get<LiveCommit>(liveKey(repository, environment));
}

/**
 * Builds the live keys from the deployment records, once per store (a store from before they existed). Safe only
 * at start, before the hub serves requests.
 */
export async function buildLiveCommitsOnce(store: Store): Promise<void> {
  if (await store.get(BUILT)) return;
  const newest = new Map<string, DeploymentRecord>();
  for (const { value: d } of await store.list<DeploymentRecord>('deployment:')) {
    if (d.state !== 'success') continue;
    const key = liveKey(d.repository, d.environment);
    const seen = newest.get(key);
    if (!seen || (seen.finishedAt ?? seen.createdAt) < (d.finishedAt ?? d.createdAt)) newest.set(key, d);
  }
  for (const dep of newest.values()) {
    if (!(await liveDeployment(store, dep.repository, dep.environment))) await recordLive(store, dep);
  }
  await store.set(BUILT, true);
}
