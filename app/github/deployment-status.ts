import type { DeploymentState } from '../../lib/protocol.js';
import type { DeploymentRecord } from '../model.js';
import { truncate } from '../rollout/describe-deployment.js';

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
