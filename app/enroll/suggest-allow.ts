/**
 * What the hub suggests an enrolling agent pin in its `agent.yml` (`suggestedAllow` of the enrollment answer): where
 * this hub's code comes from and which branches its environments deploy. The agent writes it once, at enrollment,
 * and the server's owner reviews it (trust on first use); afterwards the hub can no longer widen it.
 *
 * @example
 * suggestAllow({ configs: [config] });
 * // { gitBaseUrls: ['https://git.example.com/scm/'], branches: ['main', 'release'], repositories: ['acme/*'] }
 * suggestAllow({ github: { baseUrl: 'https://ghe.example.com/api/v3' }, configs: [] });
 * // { gitBaseUrls: ['https://ghe.example.com/'], branches: [], repositories: [] }
 */
import type { LoadedConfig } from '../../config-schema/validate-config-dir.js';
import { MAX_SUGGESTED_BRANCHES, MAX_SUGGESTED_GIT_BASE_URLS, MAX_SUGGESTED_REPOSITORIES, type SuggestedAllow } from '../../lib/protocol.js';

/** A branch name `allow.branches` takes as an exact name (no `*`, nothing under `refs/`). */
const BRANCH = /^(?!refs\/)[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$/;

/**
 * The suggestion from the configs in force: in GitHub mode the GitHub web host (`https://github.com/`, or the
 * Enterprise Server's host the API base URL names), plus, in either mode, the base of every configured repository's
 * `git:` URL; the branches are the union of every environment's `branch`; the repositories are `owner/*` of every
 * configured repository's owner (a git host alone would let a tampered hub send any repository on it). Sorted, and
 * cut to the bounds.
 */
export function suggestAllow(input: { github?: { baseUrl?: string }; configs: readonly LoadedConfig[] }): SuggestedAllow {
  const bases = new Set<string>();
  const branches = new Set<string>();
  const owners = new Set<string>();
  if (input.github) bases.add(githubWebUrl(input.github.baseUrl));
  for (const config of input.configs) {
    for (const [repository, repo] of Object.entries(config.repositories)) {
      owners.add(`${repository.split('/')[0]}/*`);
      const base = repo.git === undefined ? undefined : gitBaseUrl(repo.git, repository);
      if (base) bases.add(base);
      for (const environment of Object.values(repo.environments)) if (BRANCH.test(environment.branch)) branches.add(environment.branch);
    }
  }
  return {
    gitBaseUrls: [...bases].sort().slice(0, MAX_SUGGESTED_GIT_BASE_URLS),
    branches: [...branches].sort().slice(0, MAX_SUGGESTED_BRANCHES),
    repositories: [...owners].sort().slice(0, MAX_SUGGESTED_REPOSITORIES),
  };
}

/**
 * The web (and git) host of GitHub or of a GitHub Enterprise Server whose API is at `apiBaseUrl`
 * (`https://ghe.example.com/api/v3` → `https://ghe.example.com/`).
 */
export function githubWebUrl(apiBaseUrl: string | undefined): string {
  if (!apiBaseUrl) return 'https://github.com/';
  const url = new URL(apiBaseUrl);
  return `${url.protocol}//${url.host}/`;
}

/**
 * `<scheme>://<host>[:port]/<path up to the owner>/` of a repository's git URL, without credentials (an SSH user
 * name stays: it is part of the address), or undefined when the URL is not an `https`, `http` or `ssh` URL ending in
 * the repository's `owner/name` (the agent would refuse it whatever its base).
 *
 * @example
 * gitBaseUrl('https://token@git.example.com/scm/acme/shop.git', 'acme/shop'); // 'https://git.example.com/scm/'
 */
export function gitBaseUrl(gitUrl: string, repository: string): string | undefined {
  let url: URL;
  try {
    url = new URL(gitUrl);
  } catch {
    return undefined;
  }
  if (!['https:', 'http:', 'ssh:'].includes(url.protocol) || url.search || url.hash) return undefined;
  const path = url.pathname.replace(/\/+$/, '');
  const suffix = [`/${repository}.git`, `/${repository}`].find((s) => path.endsWith(s));
  if (!suffix) return undefined;
  const user = url.protocol === 'ssh:' && url.username ? `${url.username}@` : '';
  return `${url.protocol}//${user}${url.host}${path.slice(0, -suffix.length)}/`;
}
