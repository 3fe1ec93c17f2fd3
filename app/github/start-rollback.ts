/**
 * An automatic rollback of a GitHub deployment is a GitHub Deployment too, so the repository's Deployments page and
 * its statuses show the good commit going back out. Its payload names the rollout id the failed rollout planned, and
 * an intent record carries the servers it goes to: whichever of this call and the `deployment.created` webhook comes
 * first starts the same rollout, once. The create goes through the GitHub outbox: when GitHub does not take it at
 * once, the rollback is queued and starts when GitHub answers (a restart of the hub included).
 */
import type { DeploymentRecord } from '../model.js';
import type { PlannedRollback } from '../rollout/auto-rollback.js';
import type { ConfigInForce } from '../rollout/engine-context.js';
import { startRolloutThroughGitHub, type GitHubRolloutDeps } from './start-github-rollout.js';

export interface GitHubRollbackDeps extends GitHubRolloutDeps {
  config: (repository: string) => ConfigInForce | undefined;
  publicUrl: () => string;
}

/**
 * Starts a planned rollback of a GitHub deployment through GitHub (or queues it while GitHub fails). Throws when
 * GitHub refuses it for good (the engine records why on the failed rollout).
 *
 * @example
 * const engine = new RolloutEngine({ …, startRollback: (failed, plan) => failed.github ? startGitHubRollback(deps, failed, plan) : engine.startRollbackHere(failed, plan) });
 */
export async function startGitHubRollback(deps: GitHubRollbackDeps, failed: DeploymentRecord & Required<Pick<DeploymentRecord, 'github'>>, plan: PlannedRollback): Promise<void> {
  const { github } = failed;
  const env = deps.config(failed.repository)?.repositories[failed.repository]?.environments[failed.environment] ?? {};
  await startRolloutThroughGitHub(deps, {
    installationId: github.installationId,
    repository: { fullName: failed.repository, owner: github.owner, name: github.repo, cloneUrl: github.cloneUrl },
    intent: { rollbackOf: failed.id, onlyAgents: plan.agentIds },
    sha: plan.sha,
    environment: failed.environment,
    env,
    rolloutId: plan.deploymentId,
    trigger: 'rollback',
    description: `BitEnvoy: automatic rollback of ${failed.sha.slice(0, 7)} (${failed.id}) to ${plan.sha.slice(0, 7)} on ${plan.agentIds.length} server${plan.agentIds.length === 1 ? '' : 's'}`,
    publicUrl: deps.publicUrl(),
  });
}
