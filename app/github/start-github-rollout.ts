/**
 * The one way BitEnvoy starts a rollout through GitHub — auto-deploy, pull-request commands, the admin API and
 * automatic rollbacks all come here: the rollout id is chosen first, and the decision — the GitHub Deployment to
 * create, naming that id, with what the webhook must plan with (the intent) — is written to the GitHub outbox as one
 * row (create-deployment-effect.ts). The outbox creates the deployment and starts the rollout from the same payload
 * the `deployment.created` webhook carries; whichever of the two is handled first starts it, exactly once.
 *
 * The caller waits for the first attempt: when GitHub answers promptly it gets the started rollout; when GitHub
 * fails (a 5xx, a rate limit, no answer) it is told the deployment is queued — it is created, and its rollout
 * started, as soon as GitHub answers, even across a restart of the hub. Only a create GitHub refuses for good (or
 * that cannot be written) throws.
 *
 * @example
 * const started = await startRolloutThroughGitHub({ outbox }, { installationId, repository, sha, environment, env, trigger: 'api', description });
 * if (started.state === 'queued') console.log(`queued: ${started.reason}`);
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { AuditEntry } from '../audit/audit-log.js';
import { CREATE_DEPLOYMENT_EFFECT, type CreateDeploymentParams, type CreateDeploymentResult } from './create-deployment-effect.js';
import { githubDeploymentBody, newRolloutId } from './create-github-deployment.js';
import type { GitHubOutbox } from './github-outbox.js';
import type { DeploymentOutcome, RolloutIntent } from './on-deployment-created.js';

/** The repository the rollout deploys. */
export interface GitHubRepositoryRef {
  fullName: string;
  owner: string;
  name: string;
  cloneUrl: string;
}

export type GitHubRolloutRequest = Omit<Parameters<typeof githubDeploymentBody>[0], 'rolloutId'> & {
  installationId: number;
  repository: GitHubRepositoryRef;
  /** When the id was chosen earlier (a planned rollback names its rollout before it exists). */
  rolloutId?: string;
  /** What the webhook must plan with (a rollback's servers, a refusal), kept before GitHub hears of the deployment. */
  intent?: RolloutIntent;
  /** Passed to the start: a deployment created knowing it cannot run is recorded as `error` with this. */
  refuseWith?: string;
  /** Written once GitHub created the deployment (auto-deploy's record of what it decided). */
  audit?: Omit<AuditEntry, 'at'>;
};

export interface GitHubRolloutDeps {
  /** The hub's GitHub outbox, with the `bitenvoy:create-deployment` kind registered. */
  outbox: Pick<GitHubOutbox, 'enqueueAndWait'>;
}

/** The rollout started (or its start was handled by the webhook), or its GitHub Deployment is queued. */
export type GitHubRolloutStart =
  | { state: 'started'; rolloutId: string; githubDeploymentId?: number; outcome: DeploymentOutcome }
  | { state: 'queued'; rolloutId: string; reason: string };

export async function startRolloutThroughGitHub(deps: GitHubRolloutDeps, request: GitHubRolloutRequest): Promise<GitHubRolloutStart> {
  const { installationId, repository, intent, refuseWith, audit, rolloutId: chosen, ...body } = request;
  const rolloutId = chosen ?? newRolloutId();
  const params: CreateDeploymentParams = {
    installationId,
    owner: repository.owner,
    repo: repository.name,
    repository: { fullName: repository.fullName, cloneUrl: repository.cloneUrl },
    rolloutId,
    body: githubDeploymentBody({ ...body, rolloutId }) as CreateDeploymentParams['body'],
    ...(intent ? { intent } : {}),
    ...(refuseWith !== undefined ? { refuseWith } : {}),
    ...(audit ? { audit } : {}),
  };
  const outcome = await deps.outbox.enqueueAndWait({ installationId, route: CREATE_DEPLOYMENT_EFFECT, params: { ...params } });
  if (outcome.state === 'queued') return { state: 'queued', rolloutId, reason: outcome.reason };
  if (outcome.state === 'dropped') {
    throw new BitEnvoyError('BE_DEPLOY_REJECTED', `GitHub did not create the deployment of ${repository.fullName}@${body.sha.slice(0, 7)} to \`${body.environment}\`: ${outcome.reason}`);
  }
  const result = outcome.result as CreateDeploymentResult;
  return { state: 'started', rolloutId, ...(result.githubDeploymentId !== undefined ? { githubDeploymentId: result.githubDeploymentId } : {}), outcome: result.outcome };
}
