/**
 * The end of an automatic deploy: marks the commit deployed to the environment (compare-and-set: of two evaluators,
 * one passes) and creates the GitHub Deployment through the outbox, which starts its rollout — or records it as
 * `error` when the checks never reported. Also the branch-head read every evaluation starts with.
 *
 * @example
 * await createAutoDeployment({ store, outbox, log, publicUrl }, pending, 'production', env, 'all 3 checks passed on main');
 */
import type { JobArtifact } from '../../lib/protocol.js';
import type { AutoDeployerDeps } from './auto-deploy.js';
import { markDeployed, unmarkDeployed, type PendingCommit, type RepositoryRef } from './auto-pending.js';
import { newRolloutId } from './create-github-deployment.js';
import { startRolloutThroughGitHub } from './start-github-rollout.js';
import type { StatusOctokit } from './status-reporter.js';

/**
 * Creates the GitHub Deployment and starts its rollout (or records it as `error` when checks never reported), through
 * the GitHub outbox: when GitHub does not take it at once it is queued, and created when GitHub answers.
 */
export async function createAutoDeployment(
  deps: Pick<AutoDeployerDeps, 'store' | 'outbox' | 'log' | 'publicUrl'>,
  pending: PendingCommit,
  environment: string,
  env: { productionEnvironment?: boolean; transientEnvironment?: boolean },
  description: string,
  timedOut = false,
  artifacts: JobArtifact[] = [],
): Promise<void> {
  const { repository, sha } = pending;
  // Marked first, by compare-and-set: an event arriving while GitHub answers, or another replica evaluating the same
  // commit, must not create a second deployment.
  if (!(await markDeployed(deps.store, repository.fullName, environment, sha))) {
    return deps.log.info({ environment }, `auto-deploy: ${sha.slice(0, 7)} → ${environment} was already deployed by another evaluation`);
  }
  // The audit entry is written before the rollout starts (the webhook may start it first): its id is chosen here.
  const rolloutId = newRolloutId();
  try {
    const started = await startRolloutThroughGitHub(
      { outbox: deps.outbox },
      {
        installationId: pending.installationId,
        repository,
        rolloutId,
        ...(timedOut ? { intent: { refuseWith: description }, refuseWith: description } : {}),
        sha,
        environment,
        env,
        trigger: 'auto',
        ...(artifacts.length ? { artifacts } : {}),
        description: `BitEnvoy: ${description}`,
        publicUrl: deps.publicUrl(),
        audit: { actor: 'auto', action: 'auto-deploy', repository: repository.fullName, environment, sha, outcome: timedOut ? 'error' : 'started', detail: description, deploymentId: rolloutId },
      },
    );
    const fields = { rolloutId, environment, ...(started.state === 'started' && started.githubDeploymentId !== undefined ? { githubDeployment: started.githubDeploymentId } : {}) };
    if (started.state === 'queued') deps.log.warn(fields, `auto-deploy: ${sha.slice(0, 7)} → ${environment} (${description}) is queued: ${started.reason}; the hub creates the GitHub Deployment when GitHub answers`);
    else deps.log.info(fields, `auto-deploy: ${sha.slice(0, 7)} → ${environment} (${description})`);
  } catch (err) {
    // Nothing was queued, or GitHub refused it for good: the commit may be deployed again.
    await unmarkDeployed(deps.store, repository.fullName, environment, sha);
    throw err;
  }
}

/** The commit at the head of `branch`; undefined when the branch no longer exists. */
export async function branchHead(octokit: StatusOctokit, repository: RepositoryRef, branch: string): Promise<string | undefined> {
  try {
    const res = (await octokit.request('GET /repos/{owner}/{repo}/branches/{branch}', { owner: repository.owner, repo: repository.name, branch })) as {
      data: { commit: { sha: string } };
    };
    return res.data.commit.sha;
  } catch (err) {
    if ((err as { status?: number }).status === 404) return undefined;
    throw err;
  }
}
