import type { GitAuth } from '../../lib/protocol.js';
import type { GitHubDeploymentLink } from '../model.js';
import type { StatusOctokit } from './status-reporter.js';

/** Read permissions an agent's token may carry: `contents` (the commit, release assets), `actions` (Actions artifacts). */
export type ReadPermissions = Partial<Record<'contents' | 'actions', 'read'>>;

/**
 * Mints what an agent needs to fetch one commit (or one artifact): an installation token limited to that one
 * repository and to `permissions` (default `contents: read`), valid for an hour at most. Agents never hold a
 * long-lived GitHub credential.
 *
 * @example
 * const auth = await mintRepositoryToken(await probot.auth(), deployment.github);
 */
export async function mintRepositoryToken(appOctokit: StatusOctokit, link: Pick<GitHubDeploymentLink, 'installationId' | 'repo'>, permissions: ReadPermissions = { contents: 'read' }): Promise<GitAuth> {
  const res = (await appOctokit.request('POST /app/installations/{installation_id}/access_tokens', {
    installation_id: link.installationId,
    repositories: [link.repo],
    permissions,
  })) as { data: { token: string; expires_at: string } };
  return { username: 'x-access-token', password: res.data.token, expiresAt: res.data.expires_at };
}

/**
 * One token per repository, shared by every claim until ten minutes before it expires: the GitHub requests a
 * deployment makes must not grow with its number of servers.
 *
 * @example
 * const tokens = new RepositoryTokens(() => probot.auth());
 * const auth = await tokens.get(deployment.github);
 */
export class RepositoryTokens {
  #appOctokit: () => Promise<StatusOctokit>;
  #cache = new Map<string, Promise<GitAuth>>();
  #now: () => number;

  constructor(appOctokit: () => Promise<StatusOctokit>, now: () => number = Date.now) {
    this.#appOctokit = appOctokit;
    this.#now = now;
  }

  async get(link: Pick<GitHubDeploymentLink, 'installationId' | 'repo'>, permissions: ReadPermissions = { contents: 'read' }): Promise<GitAuth> {
    const key = `${link.installationId}/${link.repo}/${Object.keys(permissions).sort().join(',')}`;
    const cached = this.#cache.get(key);
    if (cached) {
      const auth = await cached.catch(() => undefined);
      if (auth && Date.parse(auth.expiresAt) - 10 * 60_000 > this.#now()) return auth;
      if (this.#cache.get(key) !== cached) return this.get(link, permissions);
    }
    // Concurrent claims share one request.
    const minted = this.#appOctokit().then((octokit) => mintRepositoryToken(octokit, link, permissions));
    this.#cache.set(key, minted);
    minted.catch(() => this.#cache.delete(key));
    return minted;
  }
}
