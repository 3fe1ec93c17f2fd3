/**
 * "Retry the failed servers" of an ended deployment: a new deployment of the same commit to only the servers whose
 * job failed or was refused, planned by the engine like any other (engine `onlyAgents`, as an automatic rollback is)
 * and so held to the same guard rails — a lock or the promotion order refuses it, one rollout per environment queues
 * it — and audited with who asked. A deployment made through GitHub is not retried here: its retry would not be a
 * GitHub deployment, so GitHub's deployments view would not show it; deploy it again from GitHub (`/deploy`).
 *
 * @example
 * const retry = await retryFailedServers({ store, engine }, 'dep_1a2b', 'octocat'); // retry.batches: the failed servers
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
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
  if (d.github) return `deployment ${d.id} was made through GitHub: deploy \`${d.sha.slice(0, 7)}\` again from GitHub (\`/deploy ${d.environment}\` on its pull request) so GitHub shows it`;
  return undefined;
}

export async function retryFailedServers(deps: ActionDeps, id: string, by: string): Promise<DeploymentRecord> {
  const d = await deps.store.get<DeploymentRecord>(keys.deployment(id));
  if (!d) throw new BitEnvoyError('BE_NOT_FOUND', `no deployment ${id}`);
  const failed = await failedJobs(deps.store, d, RETRY_MAX_SERVERS);
  const why = whyNoRetry(d, failed.length);
  if (why) throw new BitEnvoyError('BE_CONFLICT', why);
  const agentIds = [...new Set(failed.map((f) => f.job.agentId))];
  const detail = `retry of ${d.id} on ${agentIds.length} failed server${agentIds.length === 1 ? '' : 's'}${agentIds.length === RETRY_MAX_SERVERS ? ` (the first ${RETRY_MAX_SERVERS})` : ''}`;
  let retry: DeploymentRecord;
  try {
    retry = await deps.engine.createDeployment({ repository: d.repository, environment: d.environment, ref: d.sha }, by, { onlyAgents: agentIds, trigger: 'dashboard' });
  } catch (err) {
    await recordAudit(deps.store, { actor: by, action: 'deploy', repository: d.repository, environment: d.environment, sha: d.sha, outcome: 'refused', detail: `${detail}: ${(err as Error).message}` });
    throw err;
  }
  await recordAudit(deps.store, { actor: by, action: 'deploy', repository: d.repository, environment: d.environment, sha: d.sha, outcome: retry.state === 'error' ? 'error' : 'started', deploymentId: retry.id, detail });
  return retry;
}
