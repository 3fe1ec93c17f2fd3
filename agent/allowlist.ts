/**
 * The agent's local allowlist (`allow` in `<dir>/agent.yml`): the server's owner decides which repositories and
 * environments this server ever deploys, where their code may come from, and (`allow.branches`) which branches a
 * commit must be on, whatever the hub asks. A job outside it is refused before anything of it is fetched, and the
 * refusal says which rule refused it and how to allow it. The branch rule is applied while fetching
 * (agent/fetch-from-branches.ts): only the allowed branches' heads are ever fetched.
 */
import type { AgentConfigFile } from '../config-schema/types.generated.js';
import type { JobSpec } from '../lib/protocol.js';
import { gitUrlRefusal } from './allowed-git-url.js';
import { listed } from './listed.js';

export type Allowlist = AgentConfigFile['allow'];

/**
 * True when `repository` (`owner/name`) matches a pattern of `allow.repositories` (`owner/name` or `owner/*`).
 *
 * @example
 * matchesRepository('acme/*', 'acme/shop'); // true
 */
export function matchesRepository(pattern: string, repository: string): boolean {
  if (pattern.endsWith('/*')) {
    const owner = pattern.slice(0, -2);
    return repository.startsWith(`${owner}/`) && !repository.slice(owner.length + 1).includes('/');
  }
  return pattern === repository;
}

/**
 * True when `branch` matches a pattern of `allow.branches`: a name, or a prefix ending in `*` that stands for one or
 * more characters other than `/` (as `owner/*` does for repositories).
 *
 * @example
 * matchesBranch('release/*', 'release/2.1'); // true
 * matchesBranch('release/*', 'release/2.1/fix'); // false
 */
export function matchesBranch(pattern: string, branch: string): boolean {
  if (!pattern.endsWith('*')) return pattern === branch;
  const prefix = pattern.slice(0, -1);
  const rest = branch.slice(prefix.length);
  return branch.startsWith(prefix) && rest.length > 0 && !rest.includes('/');
}

/**
 * Why the local allowlist refuses a job, or undefined when it accepts it. No `allow` (or no list) accepts all.
 *
 * @example
 * refusalReason({ repositories: ['acme/*'] }, { repository: 'acme/shop', environment: 'prod', git: { url } }); // undefined
 * refusalReason({ environments: ['staging'] }, { repository: 'acme/shop', environment: 'prod', git: { url } }); // 'this agent's allowlist…'
 */
export function refusalReason(allow: Allowlist, job: Pick<JobSpec, 'repository' | 'environment' | 'git'>): string | undefined {
  const repos = allow?.repositories;
  if (repos && !repos.some((pattern) => matchesRepository(pattern, job.repository))) {
    return (
      `this agent's allowlist does not accept repository ${job.repository} (allow.repositories: ${listed(repos)}); ` +
      `the server's owner can add \`${job.repository}\` or \`${job.repository.split('/')[0]}/*\` to allow.repositories in agent.yml and restart the agent`
    );
  }
  const envs = allow?.environments;
  if (envs && !envs.includes(job.environment)) {
    return (
      `this agent's allowlist does not accept environment ${job.environment} (allow.environments: ${listed(envs)}); ` +
      `the server's owner can add \`${job.environment}\` to allow.environments in agent.yml and restart the agent`
    );
  }
  return gitUrlRefusal(allow?.gitBaseUrls, job.repository, job.git.url);
}
