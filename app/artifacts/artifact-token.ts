/**
 * The credential an agent downloads a GitHub artifact with: an installation token for exactly the one repository the
 * artifact belongs to, with only the one read permission its download needs — `actions: read` for an Actions
 * artifact, `contents: read` for a release asset — valid an hour at most. A server that leaks it exposes that
 * repository's artifacts or files for that hour, never another repository and never a write.
 */
import type { StatusOctokit } from '../github/status-reporter.js';
import { splitRepository } from './github-artifact-errors.js';

export type ArtifactTokenKind = 'github-actions' | 'github-release';

export interface ArtifactToken {
  token: string;
  /** ISO time, as GitHub gives it. */
  expiresAt: string;
}

const PERMISSIONS: Record<ArtifactTokenKind, Record<string, 'read'>> = {
  'github-actions': { actions: 'read' },
  'github-release': { contents: 'read' },
};

/**
 * @example
 * const { token, expiresAt } = await mintArtifactToken(await probot.auth(), deployment.github.installationId, 'acme/shop', 'github-actions');
 */
export async function mintArtifactToken(appOctokit: StatusOctokit, installationId: number, repository: string, kind: ArtifactTokenKind): Promise<ArtifactToken> {
  const { repo } = splitRepository(repository);
  const res = (await appOctokit.request('POST /app/installations/{installation_id}/access_tokens', {
    installation_id: installationId,
    repositories: [repo],
    permissions: PERMISSIONS[kind],
  })) as { data: { token: string; expires_at: string } };
  return { token: res.data.token, expiresAt: res.data.expires_at };
}
