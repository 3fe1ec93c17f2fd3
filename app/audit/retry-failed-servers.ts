/**
 * "Retry the failed servers" of an ended deployment: a new deployment of the same commit to only the servers whose
 * job failed or was refused, planned by the engine like any other (engine `onlyAgents`, as an automatic rollback is)
 * and so held to the same guard rails — a lock or the promotion order refuses it, one rollout per environment queues
 * it — and audited with who asked. In GitHub mode, for a repository configured without `git:`, the retry is a GitHub
 * Deployment like any other dashboard deployment (its servers kept by the hub, not in GitHub's payload), so GitHub's
 * deployments view shows it.
 *
 * @example
 * const retry = await retryFailedServers({ store, engine }, 'dep_1a2b', 'octocat'); // retry.batches: the failed servers
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import type { DeployThroughGitHub } from '../api/roll-back-environment.js';
import type { QueuedGitHubDeployment } from '../github/deploy-through-github.js';
import { keys, type DeploymentRecord } from '../model.js';
import { failedJobs } from '../store/job-counts.js';
import type { ActionDeps } from './audited-deployment-actions.js';
import { recordAudit } from './audit-log.js';

/** Servers one retry takes at most (read from the failed-jobs index, never every job). */
export const RETRY_MAX_SERVERS = 1000;

/** Why this deployment offers no retry now; undefined when it does. */
export function whyNoRetry(d: DeploymentRecord, failed: number): string | undefined {
  if (!FINAL_DEPLOYMENT_STATES.includes(d.state)) return `deployment ${d.id} is still ${d.state}: retry its failed servers once it has ended`;
  if (failed === 0) return `no server of deployment ${d.id} failed`;
  return undefined;
}

export interface RetryDeps extends ActionDeps {
  /** GitHub mode: deploys a repository without `git:` as a GitHub Deployment; undefined (or answering undefined) otherwise. */
  deployThroughGitHub?: DeployThroughGitHub;
}

/** `person`: the GitHub login of whoever asked (signed in with GitHub), named in a GitHub Deployment's payload. */
export async function retryFailedServers(deps: RetryDeps, id: string, by: string, person?: string): Promise<DeploymentRecord | QueuedGitHubDeployment> {
  const d = await deps.store.get<DeploymentRecord>(keys.deployment(id));
  if (!d) throw new BitEnvoyError('BE_NOT_FOUND', `no deployment ${id}`);
  const failed = await failedJobs(deps.store, d, RETRY_MAX_SERVERS);
  const why = whyNoRetry(d, failed.length);
  if (why) throw new BitEnvoyError('BE_CONFLICT', why);
  const agentIds = [...new Set(failed.map((f) => f.job.agentId))];
  const detail = `retry of ${d.id} on ${agentIds.length} failed server${agentIds.length === 1 ? '' : 's'}${agentIds.length === RETRY_MAX_SERVERS ? ` (the first ${RETRY_MAX_SERVERS})` : ''}`;
  let retry: DeploymentRecord | QueuedGitHubDeployment;
  const req = { repository: d.repository, environment: d.environment, ref: d.sha };
  try {
    retry =
      (await deps.deployThroughGitHub?.(req, by, { onlyAgents: agentIds, trigger: 'dashboard', description: `BitEnvoy: ${detail}, by ${by}`.slice(0, 140), ...(person ? { person } : {}) })) ??
      (await deps.engine.createDeployment(req, by, { onlyAgents: agentIds, trigger: 'dashboard' }));
  } catch (err) {
    await recordAudit(deps.store, { actor: by, action: 'deploy', repository: d.repository, environment: d.environment, sha: d.sha, outcome: 'refused', detail: `${detail}: ${(err as Error).message}` });
    throw err;
  }
  const outcome = 'queued' in retry ? 'queued' : retry.state === 'error' ? 'error' : 'started';
  await recordAudit(deps.store, { actor: by, action: 'deploy', repository: d.repository, environment: d.environment, sha: d.sha, outcome, deploymentId: retry.id, detail: 'queued' in retry ? `${detail}: ${retry.message}` : detail });
  return retry;
}
