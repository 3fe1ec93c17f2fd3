/**
 * The credential an agent downloads a GitHub artifact with: an installation token for exactly the one repository the
 * artifact belongs to, with only the one read permission its download needs — `actions: read` for an Actions
 * artifact, `contents: read` for a release asset — valid an hour at most. A server that leaks it exposes that
 * repository's artifacts or files for that hour, never another repository and never a write.
 */
import { mintRepositoryToken, type ReadPermissions } from '../github/repository-token.js';
import type { StatusOctokit } from '../github/status-reporter.js';
import { splitRepository } from './github-artifact-errors.js';

export type ArtifactTokenKind = 'github-actions' | 'github-release';

export interface ArtifactToken {
  token: string;
  /** ISO time, as GitHub gives it. */
  expiresAt: string;
}

/** The one read permission each kind of download needs. */
export const ARTIFACT_PERMISSIONS: Record<ArtifactTokenKind, ReadPermissions> = {
  'github-actions': { actions: 'read' },
  'github-release': { contents: 'read' },
};

/**
 * @example
 * const { token, expiresAt } = await mintArtifactToken(await probot.auth(), deployment.github.installationId, 'acme/shop', 'github-actions');
 */
export async function mintArtifactToken(appOctokit: StatusOctokit, installationId: number, repository: string, kind: ArtifactTokenKind): Promise<ArtifactToken> {
  const { repo } = splitRepository(repository);
  const auth = await mintRepositoryToken(appOctokit, { installationId, repo }, ARTIFACT_PERMISSIONS[kind]);
  return { token: auth.password, expiresAt: auth.expiresAt };
}
