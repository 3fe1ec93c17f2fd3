/**
 * What the environments pages say about one environment beyond its status (environment-status.ts): the record of its
 * live deployment, and the drift — servers not on the live commit.
 *
 * Drift is exact: the store keeps, per repository, environment and server, the release it runs now (`releases`,
 * written in the same transaction as the job that succeeded there, see document-writes.ts). Of the servers with a
 * release in this environment, those whose release is the live deployment's commit are on it, the others are not (a
 * server the live rollout failed on, or one a later deployment moved away and that was not brought back). Both are
 * counted from one index range (release-queries.ts), whatever the history. A server that never ran a job of this
 * environment successfully has no release here and is not counted; nor is a removed agent.
 *
 * @example
 * const facts = await readEnvironmentFacts(store, await readEnvironmentStatus(store, 'acme/shop', 'production'));
 * facts.drift; // { servers: 40, onLive: 38, notOnLive: 2 }
 */
import { keys, type DeploymentRecord } from '../model.js';
import type { EnvironmentStatus } from '../rollout/environment-status.js';
import { countReleasesOn } from '../store/release-queries.js';
import type { Store } from '../store/store.js';

export interface Drift {
  /** Servers with a release in this environment. */
  servers: number;
  /** Of those, servers whose release is the live commit. */
  onLive: number;
  /** Servers whose release is another commit. */
  notOnLive: number;
}

export interface EnvironmentFacts {
  status: EnvironmentStatus;
  live?: DeploymentRecord;
  drift?: Drift;
}

/** Reads the live deployment (by key) and counts the environment's servers on its commit and not. */
export async function readEnvironmentFacts(store: Store, status: EnvironmentStatus): Promise<EnvironmentFacts> {
  const live = status.live ? await store.get<DeploymentRecord>(keys.deployment(status.live.deploymentId)) : undefined;
  if (!live) return { status };
  const { servers, onSha } = await countReleasesOn(store, status.repository, status.environment, live.sha);
  return { status, live, drift: { servers, onLive: onSha, notOnLive: servers - onSha } };
}
