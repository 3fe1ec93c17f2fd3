/**
 * The one way BitEnvoy starts a rollout through GitHub — auto-deploy, pull-request commands, the admin API and
 * automatic rollbacks all come here: the rollout id is chosen first, what the webhook must plan with (the intent) is
 * kept, the GitHub Deployment is created naming that id, and the rollout starts from the same payload the
 * `deployment.created` webhook carries. Whichever of the two is handled first starts it, exactly once.
 *
 * @example
 * const { rolloutId, outcome } = await startRolloutThroughGitHub(deps, { octokit, installationId, repository, sha, environment, env, trigger: 'api', description });
 */
import type { Store } from '../store/store.js';
import type { githubDeploymentBody} from './create-github-deployment.js';
import { createGitHubDeployment, newRolloutId, type CreatedGitHubDeployment } from './create-github-deployment.js';
import { ROLLOUT_INTENT_TTL_MS, rolloutIntentKey, type DeploymentCreatedPayload, type DeploymentOutcome, type RolloutIntent } from './on-deployment-created.js';
import type { StatusOctokit } from './status-reporter.js';

/** The repository the rollout deploys. */
export interface GitHubRepositoryRef {
  fullName: string;
  owner: string;
  name: string;
  cloneUrl: string;
}

export type GitHubRolloutRequest = Omit<Parameters<typeof githubDeploymentBody>[0], 'rolloutId'> & {
  octokit: StatusOctokit;
  installationId: number;
  repository: GitHubRepositoryRef;
  /** When the id was chosen earlier (a planned rollback names its rollout before it exists). */
  rolloutId?: string;
  /** What the webhook must plan with (a rollback's servers, a refusal), kept before GitHub hears of the deployment. */
  intent?: RolloutIntent;
  /** Passed to the start: a deployment created knowing it cannot run is recorded as `error` with this. */
  refuseWith?: string;
};

export interface GitHubRolloutDeps {
  store: Store;
  startDeployment: (payload: DeploymentCreatedPayload, options?: { refuseWith?: string }) => Promise<DeploymentOutcome>;
}

export async function startRolloutThroughGitHub(
  deps: GitHubRolloutDeps,
  request: GitHubRolloutRequest,
): Promise<{ rolloutId: string; created: CreatedGitHubDeployment; outcome: DeploymentOutcome }> {
  const { octokit, installationId, repository, intent, refuseWith, rolloutId: chosen, ...body } = request;
  const rolloutId = chosen ?? newRolloutId();
  if (intent) await deps.store.set<RolloutIntent>(rolloutIntentKey(rolloutId), intent, ROLLOUT_INTENT_TTL_MS);
  const created = await createGitHubDeployment(octokit, { ...body, owner: repository.owner, repo: repository.name, rolloutId });
  const payload: DeploymentCreatedPayload = {
    deployment: created,
    repository: { full_name: repository.fullName, name: repository.name, owner: { login: repository.owner }, clone_url: repository.cloneUrl },
    installation: { id: installationId },
  };
  const outcome = await deps.startDeployment(payload, refuseWith ? { refuseWith } : {});
  return { rolloutId, created, outcome };
}
