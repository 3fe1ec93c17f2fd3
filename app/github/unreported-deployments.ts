/**
 * The GitHub deployments the status reporter may still owe a status (see status-reporter.ts): those still running,
 * and those whose final state GitHub has not been seen to take (`githubReported`). A final one that ended more than
 * {@link RESUME_WINDOW_MS} ago is left alone: nobody watches it any more, and a hub upgraded from before
 * `githubReported` would otherwise read every deployment it ever made from GitHub.
 *
 * An index read (`deployments_github_unreported`): the flag is a column of the deployment's own row, written in the
 * same transaction as the state change that makes a status due.
 *
 * @example
 * const reporter = new GitHubStatusReporter({ …, openDeployments: () => listUnreportedGitHubDeployments(store) });
 */
import type { DeploymentRecord } from '../model.js';
import type { Store } from '../store/store.js';

/** How long after its end a deployment's final status is still resumed: 7 days. */
export const RESUME_WINDOW_MS = 7 * 24 * 3600_000;

export async function listUnreportedGitHubDeployments(store: Store): Promise<DeploymentRecord[]> {
  const since = new Date(Date.now() - RESUME_WINDOW_MS).toISOString();
  const rows = await store.db.all<{ key: string }>('SELECT key FROM deployments WHERE github_unreported = 1 AND (finished_at IS NULL OR finished_at >= ?)', since);
  const records = await store.getMany<DeploymentRecord>(rows.map((row) => row.key));
  return records.filter((d): d is DeploymentRecord => d !== undefined);
}
