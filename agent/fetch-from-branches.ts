/**
 * `allow.branches`: the agent runs only commits that are on the branches its owner allows. It then never fetches a
 * commit by SHA (a hub could name any commit the server has, such as an unreviewed branch or a pull request's head):
 * it lists the remote's branches, fetches the heads of the allowed ones into `refs/bitenvoy/branches/*` of the
 * mirror, and the job's commit must be one of them or an ancestor of one.
 *
 * @example
 * const mirror = await fetchFromBranches({ agentDir, repository: 'acme/shop', url, sha, jobId, branches: ['main', 'release/*'], log });
 * // throws BE_NOT_ALLOWED "commit abc1234 is not reachable from main, release/* in acme/shop: …"
 */
import { execFile } from 'node:child_process';
import { BitEnvoyError } from '../lib/errors.js';
import { basicAuthEnv, gitWithEnv } from '../lib/git.js';
import type { GitAuth, JobSpec } from '../lib/protocol.js';
import { matchesBranch } from './allowlist.js';
import { fetchCommit, firstLine, keepJobCommit, openMirror } from './fetch-commit.js';
import { clipped, listed } from './listed.js';

const BRANCH_REFS = 'refs/bitenvoy/branches/';

export interface FetchFromBranchesOptions {
  agentDir: string;
  repository: string;
  url: string;
  auth?: GitAuth;
  sha: string;
  jobId: string;
  /** `allow.branches`: names, or prefixes ending in `*`. */
  branches: string[];
  log: (line: string) => void;
}

/**
 * Fetches the allowed branches and keeps `sha` under `refs/bitenvoy/jobs/<jobId>` when it is on one of them; returns
 * the mirror's path. Throws BE_NOT_ALLOWED (a refusal, saying how to allow it) when the commit is on none of them,
 * BE_GIT when git fails.
 */
export async function fetchFromBranches(options: FetchFromBranchesOptions): Promise<string> {
  const { repository, url, sha, branches } = options;
  const mirror = await openMirror(options.agentDir, repository);
  // Credentials travel as an HTTP header set through the environment: never on a command line, never in a URL.
  const env = options.auth ? basicAuthEnv(options.auth.username, options.auth.password) : {};
  const heads = (await remoteBranches(mirror, url, env, repository)).filter((name) => branches.some((pattern) => matchesBranch(pattern, name)));
  if (!heads.length) {
    throw new BitEnvoyError(
      'BE_NOT_ALLOWED',
      `commit ${sha.slice(0, 7)} is not reachable from ${listed(branches)} in ${repository}: none of those branches exists at ${clipped(url)}; ` +
        `push one, or the server's owner can change allow.branches in agent.yml and restart the agent`,
    );
  }
  options.log(`fetching ${listed(heads)} of ${repository} from ${url} (allow.branches: ${listed(branches)}); the commit must be on one of them\n`);
  try {
    await gitWithEnv(['fetch', '--no-tags', '--no-write-fetch-head', '--', url, ...heads.map((name) => `+refs/heads/${name}:${BRANCH_REFS}${name}`)], mirror, env);
  } catch (err) {
    throw new BitEnvoyError('BE_GIT', `cannot fetch ${repository} from ${clipped(url)}: ${clipped(firstLine(err), 1000)}`, { cause: err });
  }
  await dropOtherBranches(mirror, heads);
  const on = await branchHolding(mirror, sha, heads);
  if (!on) {
    throw new BitEnvoyError(
      'BE_NOT_ALLOWED',
      `commit ${sha.slice(0, 7)} is not reachable from ${listed(branches)} in ${repository} (this agent's allow.branches; it fetched ${listed(heads)}): ` +
        `deploy a commit that is on one of them (merge it first), or the server's owner can add its branch to allow.branches in agent.yml and restart the agent`,
    );
  }
  options.log(`commit ${sha.slice(0, 7)} is on ${on}\n`);
  await keepJobCommit(mirror, options.jobId, sha);
  return mirror;
}

/** Names of the remote's branches (`git ls-remote --heads`), without `refs/heads/`. */
async function remoteBranches(mirror: string, url: string, env: Record<string, string>, repository: string): Promise<string[]> {
  let out: string;
  try {
    out = await gitWithEnv(['ls-remote', '--heads', '--', url], mirror, env);
  } catch (err) {
    throw new BitEnvoyError('BE_GIT', `cannot list the branches of ${repository} at ${clipped(url)}: ${clipped(firstLine(err), 1000)}`, { cause: err });
  }
  return out.split('\n').flatMap((line) => {
    const ref = line.split('\t')[1]?.trim();
    return ref?.startsWith('refs/heads/') ? [ref.slice('refs/heads/'.length)] : [];
  });
}

/** Forgets branches fetched for earlier jobs that are gone or no longer allowed: only today's heads vouch for a commit. */
async function dropOtherBranches(mirror: string, heads: string[]): Promise<void> {
  const keep = new Set(heads.map((name) => `${BRANCH_REFS}${name}`));
  const refs = (await gitWithEnv(['for-each-ref', '--format=%(refname)', BRANCH_REFS], mirror, {})).split('\n').filter(Boolean);
  for (const ref of refs.filter((r) => !keep.has(r))) await gitWithEnv(['update-ref', '-d', ref], mirror, {});
}

/** The first of `heads` whose fetched head is `sha` or has it as an ancestor; undefined when none does. */
async function branchHolding(mirror: string, sha: string, heads: string[]): Promise<string | undefined> {
  if ((await gitStatus(mirror, ['cat-file', '-e', `${sha}^{commit}`])) !== 0) return undefined;
  for (const name of heads) {
    const status = await gitStatus(mirror, ['merge-base', '--is-ancestor', sha, `${BRANCH_REFS}${name}`]);
    if (status === 0) return name;
    // 1 means "not an ancestor"; anything else is git failing, which must not pass for an answer either way.
    if (status !== 1) throw new BitEnvoyError('BE_GIT', `cannot tell whether ${sha.slice(0, 7)} is on ${name}: git merge-base exited ${status}`);
  }
  return undefined;
}

/** A git command's exit status (its output is not needed). */
function gitStatus(mirror: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    execFile('git', ['--git-dir', mirror, ...args], { env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } }, (err) => {
      const code = (err as { code?: unknown } | null)?.code;
      resolve(err ? (typeof code === 'number' ? code : -1) : 0);
    });
  });
}

/**
 * Fetches a job's commit into its repository's mirror: from the allowed branches when `allow.branches` is set, else
 * by its SHA. Returns the mirror's path.
 *
 * @example
 * const mirror = await fetchJobCommit(spec, agentDir, config.allow?.branches, (line) => reporter.output('system', line));
 */
export function fetchJobCommit(spec: JobSpec, agentDir: string, branches: string[] | undefined, log: (line: string) => void): Promise<string> {
  const source = { agentDir, repository: spec.repository, url: spec.git.url, ...(spec.git.auth ? { auth: spec.git.auth } : {}), sha: spec.sha, jobId: spec.id, log };
  return branches ? fetchFromBranches({ ...source, branches }) : fetchCommit({ ...source, ref: spec.ref });
}
