/**
 * A deployment asked for through the admin API (`bitenvoy deploy`) in GitHub mode, of a repository whose config has
 * no `git:` URL: it goes the way every GitHub deployment goes — a GitHub Deployment made with the App's installation
 * on that repository (so it shows in GitHub), whose rollout starts at once and whose agents fetch with a short-lived
 * installation token. The environment's guard rails are asked first, so a locked environment gets a 409 and no
 * GitHub Deployment at all. When GitHub does not take the create at once (a 5xx, a rate limit, no answer), the answer
 * says it is queued (the admin API's 202): the hub's GitHub outbox creates it, and starts the rollout, when GitHub
 * answers.
 *
 * @example
 * const dep = await deployThroughGitHub(deps, { repository: 'acme/shop', ref: 'main', environment: 'staging' }, 'api');
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { CreateDeploymentRequest } from '../../lib/protocol.js';
import type { ConfigInForce } from '../config/config-repo.js';
import { keys, type DeploymentRecord } from '../model.js';
import { guardRailError, guardRailRefusals } from '../rollout/guard-rails.js';
import type { Store } from '../store/store.js';
import { startRolloutThroughGitHub, type GitHubRolloutDeps } from './start-github-rollout.js';
import type { StatusOctokit } from './status-reporter.js';

export interface DeployThroughGitHubDeps extends GitHubRolloutDeps {
  store: Store;
  config: (repository: string) => ConfigInForce | undefined;
  /** The App itself (JWT): finds the installation on a repository. */
  appOctokit: () => Promise<StatusOctokit>;
  octokitFor: (installationId: number) => Promise<StatusOctokit>;
  publicUrl: () => string;
}

/** A deployment decided but not made yet: GitHub did not take its create at once, the outbox retries it. */
export interface QueuedGitHubDeployment {
  queued: true;
  /** The rollout's id: its page and `GET /api/v1/deployments/{id}` find it once GitHub created the deployment. */
  id: string;
  repository: string;
  environment: string;
  sha: string;
  message: string;
}

export interface GitHubDeploymentOptions {
  /** A rollback away from the deployment `rollbackOf` (`bitenvoy rollback`): the promotion order does not hold it. */
  rollbackOf?: string;
  description?: string;
  /** Only these servers (a retry of the ones that failed), whatever the group selects; kept by the hub, not in the payload. */
  onlyAgents?: string[];
  /** What asked, for the deployment's trigger (default `api`; a rollback is always `rollback`). */
  trigger?: 'api' | 'dashboard';
  /** Deployed past checks that are not green by one of the environment's `forceUsers` (said in its statuses). */
  forced?: boolean;
  /** The GitHub login of the person who asked (the status pages), named in the payload as a PR command's is. */
  person?: string;
}

/** True when the admin API must deploy `repository` through GitHub: it is configured without a `git:` URL. */
export function deploysThroughGitHub(config: ConfigInForce | undefined, repository: string): boolean {
  const repo = config?.repositories[repository];
  return repo !== undefined && !repo.git;
}

export async function deployThroughGitHub(
  deps: DeployThroughGitHubDeps,
  req: CreateDeploymentRequest,
  actor: string,
  options: GitHubDeploymentOptions = {},
): Promise<DeploymentRecord | QueuedGitHubDeployment> {
  const [owner, name] = req.repository.split('/') as [string, string];
  const env = deps.config(req.repository)?.repositories[req.repository]?.environments[req.environment];
  if (!env) {
    const known = Object.keys(deps.config(req.repository)?.repositories[req.repository]?.environments ?? {});
    throw new BitEnvoyError('BE_DEPLOY_REJECTED', `${req.repository} has no environment \`${req.environment}\`; its environments: ${known.join(', ')}`, { details: { environments: known } });
  }
  const installationId = await installationOn(await deps.appOctokit(), owner, name);
  const octokit = await deps.octokitFor(installationId);
  const repository = await readRepository(octokit, owner, name);
  const sha = await resolveCommit(octokit, owner, name, req.ref);
  const refusals = await guardRailRefusals(deps.store, { repository: req.repository, environment: req.environment, sha, after: env.after, rollback: options.rollbackOf !== undefined, mode: 'github' });
  if (refusals.length) throw guardRailError(req.environment, sha, refusals);
  const started = await startRolloutThroughGitHub(deps, {
    installationId,
    repository: { fullName: repository.full_name, owner: repository.owner.login, name: repository.name, cloneUrl: repository.clone_url },
    // A rollback lets agents restore a kept release; a retry goes to the failed servers only.
    ...(options.rollbackOf || options.onlyAgents ? { intent: { ...(options.rollbackOf ? { rollbackOf: options.rollbackOf } : {}), ...(options.onlyAgents ? { onlyAgents: options.onlyAgents } : {}) } } : {}),
    sha,
    environment: req.environment,
    env,
    trigger: options.rollbackOf ? 'rollback' : (options.trigger ?? 'api'),
    description: options.description ?? `BitEnvoy: deployed with the admin API by ${actor}`,
    publicUrl: deps.publicUrl(),
    ...(options.person ? { actor: options.person } : {}),
    ...(options.forced ? { forced: true } : {}),
  });
  const { rolloutId } = started;
  if (started.state === 'queued') {
    const message = `GitHub did not take the deployment of ${req.repository}@${sha.slice(0, 7)} to \`${req.environment}\` at once (${started.reason}); it is queued: the hub creates it as soon as GitHub answers, and its rollout ${rolloutId} starts then`;
    return { queued: true, id: rolloutId, repository: req.repository, environment: req.environment, sha, message };
  }
  // 'duplicate': GitHub's deployment.created webhook claimed it first and may still be planning the rollout.
  const dep = await rolloutOf(deps.store, rolloutId, started.outcome === 'duplicate' ? WEBHOOK_PLANNING_MS : 0);
  if (!dep) throw new BitEnvoyError('BE_INTERNAL', `GitHub deployment ${started.githubDeploymentId ?? '?'} was created but its rollout ${rolloutId} was not; the hub log says why`);
  return dep;
}

/** How long the call waits for a rollout the webhook is still planning (resolving, planning, a few store writes). */
const WEBHOOK_PLANNING_MS = 10_000;

/** The rollout's record, looked for again every 25 ms for up to `waitMs`. */
async function rolloutOf(store: Store, id: string, waitMs: number): Promise<DeploymentRecord | undefined> {
  const until = Date.now() + waitMs;
  for (;;) {
    const dep = await store.get<DeploymentRecord>(keys.deployment(id));
    if (dep || Date.now() >= until) return dep;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function installationOn(app: StatusOctokit, owner: string, repo: string): Promise<number> {
  try {
    const res = (await app.request('GET /repos/{owner}/{repo}/installation', { owner, repo })) as { data: { id: number } };
    return res.data.id;
  } catch (err) {
    if ((err as { status?: number }).status === 404) {
      throw new BitEnvoyError('BE_DEPLOY_REJECTED', `the GitHub App is not installed on ${owner}/${repo} (or the repository does not exist): install the App on it, or add \`git:\` to its config file to deploy from another git host`);
    }
    throw err;
  }
}

async function readRepository(octokit: StatusOctokit, owner: string, repo: string): Promise<{ full_name: string; name: string; owner: { login: string }; clone_url: string }> {
  const res = (await octokit.request('GET /repos/{owner}/{repo}', { owner, repo })) as { data: { full_name: string; name: string; owner: { login: string }; clone_url: string } };
  return res.data;
}

/** A branch, tag or SHA as GitHub resolves it (the commit a GitHub Deployment of `ref` would get). */
async function resolveCommit(octokit: StatusOctokit, owner: string, repo: string, ref: string): Promise<string> {
  try {
    const res = (await octokit.request('GET /repos/{owner}/{repo}/commits/{ref}', { owner, repo, ref })) as { data: { sha: string } };
    return res.data.sha;
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 404 || status === 422) {
      throw new BitEnvoyError('BE_REF_NOT_FOUND', `ref \`${ref}\` does not exist in ${owner}/${repo} on GitHub; give a branch, a tag or a full 40-character commit SHA`);
    }
    throw err;
  }
}
