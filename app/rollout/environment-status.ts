/**
 * What an environment runs now and what is happening to it: the live commit (the deployment that succeeded there
 * last: when, by whom, how it was asked for), the newest deployment when that is another one (a failure after the
 * live commit, say), a rollout in progress or paused, and a lock. Each part is one indexed read, whatever the
 * environment's history: `bitenvoy status` and `GET /api/v1/environments` show it for every repository × environment.
 *
 * @example
 * const status = await readEnvironmentStatus(store, 'acme/shop', 'production');
 * status.live?.sha; // '4f2c…'
 */
import { FINAL_DEPLOYMENT_STATES, type DeploymentState } from '../../lib/protocol.js';
import type { DeploymentRecord, DeploymentTrigger, RolloutGate } from '../model.js';
import { activeDeploymentsOf, deploymentsOfEnvironment, latestSuccessful } from '../store/deployment-queries.js';
import type { Store } from '../store/store.js';
import { activeLock, type EnvironmentLock } from './environment-locks.js';

/** One deployment as the status names it. */
export interface DeploymentBrief {
  deploymentId: string;
  sha: string;
  ref: string;
  state: DeploymentState;
  description: string;
  /** Who asked (`api`, `github:octocat`, `bitenvoy:auto-rollback`…) and, when known, what kind of request it was. */
  createdBy: string;
  trigger?: DeploymentTrigger;
  createdAt: string;
  finishedAt?: string;
  /** This deployment brought back an earlier commit, away from the deployment named here. */
  rollbackOf?: string;
  /** The commit's title and author, when the hub could read them as it planned the deployment. */
  commit?: DeploymentRecord['commit'];
}

export interface EnvironmentStatus {
  repository: string;
  environment: string;
  /** The commit the environment runs: its newest successful deployment. */
  live?: DeploymentBrief;
  /** The newest deployment, when it is not the live one (it failed, was cancelled, or is running). */
  latest?: DeploymentBrief;
  /** The rollout running now (or paused between batches, `gate` says until when), and one waiting behind it. */
  rollout?: DeploymentBrief & { gate?: RolloutGate; batches: number; currentBatch: number };
  waiting?: DeploymentBrief;
  lock?: EnvironmentLock;
}

/** The status of one environment; its reads are indexed (see deployment-queries.ts) or by key. */
export async function readEnvironmentStatus(store: Store, repository: string, environment: string, now = Date.now()): Promise<EnvironmentStatus> {
  const [live, [latest], active, lock] = await Promise.all([
    latestSuccessful(store, repository, environment),
    deploymentsOfEnvironment(store, repository, environment, 1),
    activeDeploymentsOf(store, repository, environment),
    activeLock(store, repository, environment, now),
  ]);
  // Active also covers a failed rollout whose automatic rollback is still to start: not a rollout in progress.
  const going = active.filter((d) => !FINAL_DEPLOYMENT_STATES.includes(d.state));
  const running = going.find((d) => !d.waitingFor);
  const waiting = going.find((d) => d.waitingFor);
  return {
    repository,
    environment,
    ...(live ? { live: brief(live) } : {}),
    ...(latest && latest.id !== live?.id ? { latest: brief(latest) } : {}),
    ...(running ? { rollout: { ...brief(running), ...(running.gate ? { gate: running.gate } : {}), batches: running.batches.length, currentBatch: running.currentBatch } } : {}),
    ...(waiting ? { waiting: brief(waiting) } : {}),
    ...(lock ? { lock } : {}),
  };
}

function brief(d: DeploymentRecord): DeploymentBrief {
  return {
    deploymentId: d.id,
    sha: d.sha,
    ref: d.ref,
    state: d.state,
    description: d.description,
    createdBy: d.createdBy,
    ...(d.trigger ? { trigger: d.trigger } : {}),
    createdAt: d.createdAt,
    ...(d.finishedAt ? { finishedAt: d.finishedAt } : {}),
    ...(d.rollbackOf ? { rollbackOf: d.rollbackOf } : {}),
    ...(d.commit ? { commit: d.commit } : {}),
  };
}
