/**
 * The title and author of the commit a deployment ships, for the pages and the API ("what is live": SHA, message,
 * author). Local mode reads it over git from the repository's configured URL (read-commits-over-git.ts); GitHub mode
 * asks `GET /repos/{owner}/{repo}/commits/{ref}` with the installation's token. Answers are kept per repository and
 * SHA (a commit never changes: the same SHA deployed again asks nothing), and a lookup never holds a deployment up:
 * after {@link DESCRIBE_TIMEOUT_MS} or on any failure the deployment simply has no `commit`, and one warning says what
 * failed (the failure is kept a minute, so a git host that is down costs one wait and one warning, not one per plan).
 *
 * @example
 * const describeCommit = cachedCommitDescriber(describeOverGit, { log });
 * await describeCommit({ repository: 'acme/shop', gitUrl: 'https://git.example.com/acme/shop.git', sha });
 * // { title: 'Fix the checkout total', author: 'Ada Lovelace', at: '2026-11-25T09:00:00Z' }
 */
import type { Logger } from '../../lib/logger.js';
import { oneLine } from '../../lib/strip-controls.js';
import { withoutCredentials } from '../../lib/redact-url.js';
import { readCommitsOverGit } from './read-commits-over-git.js';

/** What a deployment record keeps of its commit. */
export interface CommitInfo {
  /** The first line of the message, at most {@link COMMIT_TEXT_MAX} characters. */
  title: string;
  /** The author's name, with the GitHub login when GitHub knows it (`Ada Lovelace (@ada)`). */
  author: string;
  /** When it was committed, ISO 8601. */
  at?: string;
}

/** Which commit: `installationId` when the deployment is a GitHub Deployment (its installation answers). */
export interface CommitTarget {
  repository: string;
  gitUrl: string;
  sha: string;
  installationId?: number;
}

/** Never rejects: undefined when the commit could not be read in time. */
export type DescribeCommit = (target: CommitTarget) => Promise<CommitInfo | undefined>;

/** One lookup: rejects saying what failed; `signal` aborts when the deadline passed. */
export type CommitLookup = (target: CommitTarget, signal: AbortSignal) => Promise<CommitInfo>;

export const COMMIT_TEXT_MAX = 200;
export const DESCRIBE_TIMEOUT_MS = 3000;
/** Commits kept (oldest forgotten first), and how long a failure is believed before asking again. */
const MAX_ENTRIES = 2000;
const FAILURE_TTL_MS = 60_000;
const SHA = /^[0-9a-f]{40}$/;

/** The first line of a commit message, one line of plain text, bounded. */
export function commitTitle(message: string): string {
  return bounded(message.split('\n', 1)[0]!);
}

function bounded(text: string): string {
  const line = oneLine(text).trim();
  return line.length > COMMIT_TEXT_MAX ? `${line.slice(0, COMMIT_TEXT_MAX - 1)}…` : line;
}

/** Local mode: the commit read over git from the configured URL. */
export const describeOverGit: CommitLookup = async ({ gitUrl, sha }, signal) => {
  // The SHA comes from resolveRef (40 hex digits); checked again since it goes on a git command line.
  if (!SHA.test(sha)) throw new Error(`\`${sha.slice(0, 50)}\` is not a full commit SHA`);
  const [commit] = await readCommitsOverGit(gitUrl, { source: sha, count: 1 }, { what: `read commit ${sha}`, hint: 'the deployment goes ahead without its title and author' }, { signal });
  if (!commit) throw new Error(`git listed no commit ${sha}`);
  return { title: bounded(commit.title), author: bounded(commit.author), ...(commit.at ? { at: commit.at } : {}) };
};

/** An Octokit (or anything with its `request`), here only to read one commit. */
export interface CommitOctokit {
  request(route: string, params: Record<string, unknown>): Promise<unknown>;
}

/** The fields of `GET /repos/{owner}/{repo}/commits/{ref}` read here. */
interface GitHubCommit {
  commit?: { message?: string; author?: { name?: string } | null; committer?: { date?: string } | null };
  author?: { login?: string } | null;
}

/**
 * GitHub mode: the commit from the GitHub API with the installation's token (`octokitFor` gives none when the App is
 * not installed on the repository: then `fallback`, e.g. git over the configured URL, when given).
 */
export function describeOnGitHub(octokitFor: (target: CommitTarget) => Promise<CommitOctokit | undefined>, fallback?: CommitLookup): CommitLookup {
  return async (target, signal) => {
    const octokit = await octokitFor(target);
    if (!octokit) {
      if (fallback) return fallback(target, signal);
      throw new Error(`the GitHub App is not installed on ${target.repository}`);
    }
    const [owner, repo] = target.repository.split('/') as [string, string];
    const { data } = (await octokit.request('GET /repos/{owner}/{repo}/commits/{ref}', { owner, repo, ref: target.sha, request: { signal } })) as { data: GitHubCommit };
    const message = data.commit?.message;
    if (typeof message !== 'string') throw new Error('GitHub answered without a commit message');
    const name = bounded(data.commit?.author?.name ?? '');
    const login = data.author?.login ? bounded(data.author.login) : '';
    const author = login && name && name !== login ? `${name} (@${login})` : login ? `@${login}` : name;
    const at = data.commit?.committer?.date;
    return { title: commitTitle(message), author, ...(typeof at === 'string' && at ? { at } : {}) };
  };
}

/**
 * A {@link DescribeCommit} over `lookup`: answers kept by repository and SHA (bounded), a lookup in flight shared, a
 * deadline of `timeoutMs`, and every failure turned into undefined with one warning.
 */
export function cachedCommitDescriber(lookup: CommitLookup, options: { log: Logger; timeoutMs?: number; now?: () => number }): DescribeCommit {
  const timeoutMs = options.timeoutMs ?? DESCRIBE_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: Promise<CommitInfo | undefined>; until: number }>();
  return (target) => {
    const key = `${target.repository} ${target.sha.toLowerCase()}`;
    const hit = entries.get(key);
    if (hit && hit.until > now()) return hit.value;
    // A commit never changes: an answer is kept until forgotten for room; a failure only a minute.
    const entry: { value: Promise<CommitInfo | undefined>; until: number } = { value: Promise.resolve(undefined), until: Infinity };
    entry.value = withDeadline(lookup, target, timeoutMs).catch((err: unknown) => {
      entry.until = now() + FAILURE_TTL_MS;
      const reason = withoutCredentials(err instanceof Error ? err.message : String(err));
      options.log.warn({ repository: target.repository, sha: target.sha }, `cannot read the title and author of commit ${target.sha.slice(0, 7)} of ${target.repository} (${reason}); its deployment goes ahead without them, and they are asked again in a minute`);
      return undefined;
    });
    entries.delete(key);
    entries.set(key, entry);
    while (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    return entry.value;
  };
}

/** The lookup, or a rejection after `ms`; git or the request is stopped then. */
async function withDeadline(lookup: CommitLookup, target: CommitTarget, ms: number): Promise<CommitInfo> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`no answer within ${ms / 1000} s`);
      abort.abort(err);
      reject(err);
    }, ms);
    timer.unref();
  });
  try {
    return await Promise.race([lookup(target, abort.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
