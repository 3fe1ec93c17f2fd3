/**
 * An automatic rollback of a GitHub deployment is a GitHub Deployment too, so the repository's Deployments page and
 * its statuses show the good commit going back out. Its payload names the rollout id the failed rollout planned, and
 * an intent record carries the servers it goes to: whichever of this call and the `deployment.created` webhook comes
 * first starts the same rollout, once.
 */
import type { DeploymentRecord } from '../model.js';
import type { PlannedRollback } from '../rollout/auto-rollback.js';
import type { ConfigInForce } from '../rollout/engine-context.js';
import type { Store } from '../store/store.js';
import { createGitHubDeployment } from './create-github-deployment.js';
import { ROLLOUT_INTENT_TTL_MS, rolloutIntentKey, type DeploymentCreatedPayload, type RolloutIntent } from './on-deployment-created.js';
import type { StatusOctokit } from './status-reporter.js';

export interface GitHubRollbackDeps {
  store: Store;
  config: (repository: string) => ConfigInForce | undefined;
  octokitFor: (installationId: number) => Promise<StatusOctokit>;
  startDeployment: (payload: DeploymentCreatedPayload) => Promise<unknown>;
  publicUrl: () => string;
}

/**
 * Starts a planned rollback of a GitHub deployment through GitHub. Throws when GitHub refuses (the engine records
 * why on the failed rollout).
 *
 * @example
 * const engine = new RolloutEngine({ …, startRollback: (failed, plan) => failed.github ? startGitHubRollback(deps, failed, plan) : engine.startRollbackHere(failed, plan) });
 */
export async function startGitHubRollback(deps: GitHubRollbackDeps, failed: DeploymentRecord & Required<Pick<DeploymentRecord, 'github'>>, plan: PlannedRollback): Promise<void> {
  const { github } = failed;
  await deps.store.set<RolloutIntent>(rolloutIntentKey(plan.deploymentId), { rollbackOf: failed.id, onlyAgents: plan.agentIds }, ROLLOUT_INTENT_TTL_MS);
  const env = deps.config(failed.repository)?.repositories[failed.repository]?.environments[failed.environment] ?? {};
  const created = await createGitHubDeployment(await deps.octokitFor(github.installationId), {
    owner: github.owner,
    repo: github.repo,
    sha: plan.sha,
    environment: failed.environment,
    env,
    rolloutId: plan.deploymentId,
    trigger: 'rollback',
    description: `BitEnvoy: automatic rollback of ${failed.sha.slice(0, 7)} (${failed.id}) to ${plan.sha.slice(0, 7)} on ${plan.agentIds.length} server${plan.agentIds.length === 1 ? '' : 's'}`,
    publicUrl: deps.publicUrl(),
  });
  await deps.startDeployment({
    deployment: created,
    repository: { full_name: failed.repository, name: github.repo, owner: { login: github.owner }, clone_url: github.cloneUrl },
    installation: { id: github.installationId },
  });
}
