/**
 * The agent's local allowlist (`allow` in `<dir>/agent.yml`): the server's owner decides which repositories and
 * environments this server ever deploys, where their code may come from, which instruction files of a commit it
 * runs, and (`allow.branches`) which branches a commit must be on, whatever the hub asks. A job outside it is refused
 * before anything of it is fetched, and the refusal says which rule refused it and how to allow it. The branch rule
 * is applied while fetching (agent/fetch-from-branches.ts): only the allowed branches' heads are ever fetched.
 */
import { posix } from 'node:path';
import type { AgentConfigFile } from '../config-schema/types.generated.js';
import type { JobSpec } from '../lib/protocol.js';
import { gitUrlRefusal } from './allowed-git-url.js';
import { clipped, listed } from './listed.js';

export type Allowlist = AgentConfigFile['allow'];

/** The instruction file paths an agent accepts when agent.yml has no `allow.instructions`. */
export const DEFAULT_INSTRUCTIONS = ['bitenvoy.yml'];

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
 * more characters other than `/` (as `owner/*` does for repositories). A name under `refs/` is never a branch,
 * whatever the pattern: a branch literally named `refs/pull/1/head` would pass for a pull request's head.
 *
 * @example
 * matchesBranch('release/*', 'release/2.1'); // true
 * matchesBranch('release/*', 'release/2.1/fix'); // false
 */
export function matchesBranch(pattern: string, branch: string): boolean {
  if (branch.startsWith('refs/') || pattern.startsWith('refs/')) return false;
  if (!pattern.endsWith('*')) return pattern === branch;
  const prefix = pattern.slice(0, -1);
  const rest = branch.slice(prefix.length);
  return branch.startsWith(prefix) && rest.length > 0 && !rest.includes('/');
}

/**
 * Why the local allowlist refuses a job, or undefined when it accepts it. A list left out accepts all, except
 * `instructions`, which is `[bitenvoy.yml]` then.
 *
 * @example
 * const job = { repository: 'acme/shop', environment: 'prod', git: { url }, instructions: 'bitenvoy.yml' };
 * refusalReason({ repositories: ['acme/*'] }, job); // undefined
 * refusalReason({ environments: ['staging'] }, job); // 'this agent's allowlist…'
 */
export function refusalReason(allow: Allowlist, job: Pick<JobSpec, 'repository' | 'environment' | 'git' | 'instructions'>): string | undefined {
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
  return instructionsRefusal(allow?.instructions ?? DEFAULT_INSTRUCTIONS, job.instructions) ?? gitUrlRefusal(allow?.gitBaseUrls, job.repository, job.git.url);
}

/** `allow.instructions` items (as config-schema/agent.schema.json has it): relative, `/`-separated, no `.` or `..` segment. */
const INSTRUCTION_PATH = /^\.?[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/\.?[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

/**
 * `allow.instructions`: the hub names the instruction file, and any YAML file of the commit that parses as one (a
 * documentation example, a test fixture) would otherwise run as deploy steps. `./bitenvoy.yml` is `bitenvoy.yml`.
 */
function instructionsRefusal(allowed: string[], instructions: string): string | undefined {
  const path = posix.normalize(instructions);
  if (allowed.includes(path)) return undefined;
  const head = `this agent's allowlist does not accept the instruction file ${clipped(instructions)} (allow.instructions: ${listed(allowed)})`;
  if (!INSTRUCTION_PATH.test(path) || path.length > 255) return `${head}; such a path is never accepted: name an instruction file like \`deploy/bitenvoy.yml\` in the repository's config`;
  return (
    `${head}: if this repository's config really names it, the server's owner can add \`${path}\` to allow.instructions in agent.yml and restart the agent; ` +
    'a hub that names it unasked may have been tampered with'
  );
}
