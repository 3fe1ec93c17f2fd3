/**
 * The GitHub deployments the status reporter may still owe a status (see status-reporter.ts): those still running,
 * and those whose final state GitHub has not been seen to take (`githubReported`). A final one that ended more than
 * {@link RESUME_WINDOW_MS} ago is left alone: nobody watches it any more, and a hub upgraded from before
 * `githubReported` would otherwise read every deployment it ever made from GitHub.
 *
 * The store rewrite replaces the body with an indexed query; the name, signature and meaning stay.
 *
 * @example
 * const reporter = new GitHubStatusReporter({ …, openDeployments: () => listUnreportedGitHubDeployments(store) });
 */
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import type { DeploymentRecord } from '../model.js';
import type { Store } from '../store/store.js';

/** How long after its end a deployment's final status is still resumed: 7 days. */
export const RESUME_WINDOW_MS = 7 * 24 * 3600_000;

export async function listUnreportedGitHubDeployments(store: Store): Promise<DeploymentRecord[]> {
  const since = new Date(Date.now() - RESUME_WINDOW_MS).toISOString();
  return (await store.list<DeploymentRecord>('deployment:'))
    .map((e) => e.value)
    .filter((d) => d.github && (!FINAL_DEPLOYMENT_STATES.includes(d.state) || (d.githubReported?.state !== d.state && (d.finishedAt ?? d.updatedAt) >= since)));
}
