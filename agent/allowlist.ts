/**
 * The agent's local allowlist (`allow` in `<dir>/agent.yml`): the server's owner decides which repositories and
 * environments this server ever deploys, whatever the hub asks. A job outside it is refused before anything is
 * fetched, and the refusal says which rule refused it and how to allow it.
 */
import type { AgentConfigFile } from '../config-schema/types.generated.js';
import type { JobSpec } from '../lib/protocol.js';

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
 * Why the local allowlist refuses a job, or undefined when it accepts it. No `allow` (or no list) accepts all.
 *
 * @example
 * refusalReason({ repositories: ['acme/*'] }, { repository: 'acme/shop', environment: 'prod' }); // undefined
 * refusalReason({ environments: ['staging'] }, { repository: 'acme/shop', environment: 'prod' }); // 'this agent's allowlist…'
 */
export function refusalReason(allow: Allowlist, job: Pick<JobSpec, 'repository' | 'environment'>): string | undefined {
  const repos = allow?.repositories;
  if (repos && !repos.some((pattern) => matchesRepository(pattern, job.repository))) {
    return (
      `this agent's allowlist does not accept repository ${job.repository} (allow.repositories: ${repos.join(', ') || 'empty'}); ` +
      `the server's owner can add \`${job.repository}\` or \`${job.repository.split('/')[0]}/*\` to allow.repositories in agent.yml and restart the agent`
    );
  }
  const envs = allow?.environments;
  if (envs && !envs.includes(job.environment)) {
    return (
      `this agent's allowlist does not accept environment ${job.environment} (allow.environments: ${envs.join(', ') || 'empty'}); ` +
      `the server's owner can add \`${job.environment}\` to allow.environments in agent.yml and restart the agent`
    );
  }
  return undefined;
}
