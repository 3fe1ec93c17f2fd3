import type { DeploymentState } from '../../lib/protocol.js';
import type { DeploymentRecord, GitHubDeploymentLink } from '../model.js';
import { truncate } from '../rollout/describe-deployment.js';
import type { StatusOctokit } from './status-reporter.js';

/** The body of `POST /repos/{owner}/{repo}/deployments/{id}/statuses` for a deployment as it is now. */
export interface DeploymentStatusBody {
  state: 'queued' | 'in_progress' | 'success' | 'failure' | 'error';
  description: string;
  log_url: string;
  environment_url?: string;
  auto_inactive?: boolean;
}

const GITHUB_STATE: Record<DeploymentState, DeploymentStatusBody['state']> = {
  queued: 'queued',
  in_progress: 'in_progress',
  success: 'success',
  failure: 'failure',
  error: 'error',
  // GitHub has no "cancelled": a stopped rollout could not finish, which is what `error` says.
  cancelled: 'error',
};

/**
 * Maps a rollout to the GitHub Deployment status people see in the pull request and the Deployments page.
 *
 * @example
 * deploymentStatusFor(dep, 'https://bitenvoy.example.com'); // { state: 'in_progress', description: '1/2 servers · batch 1/2', … }
 */
export function deploymentStatusFor(dep: DeploymentRecord, publicUrl: string): DeploymentStatusBody {
  return {
    state: GITHUB_STATE[dep.state],
    description: truncate(`${dep.forced ? 'forced · ' : ''}${dep.state === 'cancelled' ? `cancelled: ${dep.description}` : dep.description}`),
    log_url: `${publicUrl}/deployments/${dep.id}`,
    ...(dep.environmentUrl ? { environment_url: dep.environmentUrl } : {}),
  };
}

/** The part of a status GitHub shows people: enough to tell whether a status was already sent. */
export interface ShownStatus {
  /** GitHub's states, plus `inactive` (set by GitHub on older deployments once a newer one succeeds) and `pending`. */
  state: string;
  description: string;
}

/**
 * GitHub's newest status of a deployment (it lists them newest first), or undefined when it has none yet. Only the
 * fields compared are kept, checked for type: nothing else GitHub sends is read.
 *
 * @example
 * const newest = await readNewestDeploymentStatus(octokit, dep.github);
 * if (newest?.state === 'success') …; // GitHub already shows it
 */
export async function readNewestDeploymentStatus(octokit: StatusOctokit, link: GitHubDeploymentLink): Promise<ShownStatus | undefined> {
  const answer = await octokit.request('GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
    owner: link.owner,
    repo: link.repo,
    deployment_id: link.deploymentId,
    per_page: 1,
  });
  const data = (answer as { data?: unknown } | undefined)?.data;
  const newest: unknown = Array.isArray(data) ? data[0] : undefined;
  if (typeof newest !== 'object' || newest === null) return undefined;
  const { state, description } = newest as Record<string, unknown>;
  if (typeof state !== 'string') return undefined;
  return { state, description: typeof description === 'string' ? description : '' };
}
