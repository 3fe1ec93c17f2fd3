import type { GitAuth } from '../../lib/protocol.js';
import type { GitHubDeploymentLink } from '../model.js';
import type { StatusOctokit } from './status-reporter.js';

/**
 * Mints what an agent needs to fetch one commit: an installation token limited to that one repository and to
 * `contents: read`, valid for an hour at most. Agents never hold a long-lived GitHub credential.
 *
 * @example
 * const auth = await mintRepositoryToken(await probot.auth(), deployment.github);
 */
export async function mintRepositoryToken(appOctokit: StatusOctokit, link: GitHubDeploymentLink): Promise<GitAuth> {
  const res = (await appOctokit.request('POST /app/installations/{installation_id}/access_tokens', {
    installation_id: link.installationId,
    repositories: [link.repo],
    permissions: { contents: 'read' },
  })) as { data: { token: string; expires_at: string } };
  return { username: 'x-access-token', password: res.data.token, expiresAt: res.data.expires_at };
}
