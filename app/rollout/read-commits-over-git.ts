/**
 * Reads commits (SHA, title, author, date) from a remote repository over git, without a clone: a shallow fetch of one
 * branch or one commit into a throwaway bare directory, blobs left out, then `git log`. The deploy page lists a
 * branch's recent commits with it; a deployment's commit is described with it in local mode.
 *
 * @example
 * const [head] = await readCommitsOverGit(gitUrl, { source: 'refs/heads/main', count: 1 }, { what: 'read `main`', hint: 'check the branch' });
 * await readCommitsOverGit(gitUrl, { source: sha, count: 1 }, { what: `read commit ${sha}`, hint: '…' }, { signal });
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';
import { git } from '../../lib/git.js';
import { withoutCredentials } from '../../lib/redact-url.js';

/** Seconds without a byte from the git host after which a fetch gives up. */
const STALL_SECONDS = 5;

export interface GitCommit {
  sha: string;
  /** The subject line of the message, as git gives it (`%s`). */
  title: string;
  /** The author's name. */
  author: string;
  /** When it was committed, ISO 8601, or '' when unknown. */
  at: string;
}

/**
 * `source`: what to fetch (`refs/heads/<branch>` or a full SHA, never an option: callers check it); `count` commits
 * from it after `skip`; `depth` how many to fetch (default skip + count). A failed fetch is a `BE_GIT` error that says
 * what was being done (`what`), git's first line of complaint, and `hint`. `signal` stops git (a lookup that must not
 * wait long).
 */
export async function readCommitsOverGit(
  gitUrl: string,
  want: { source: string; count: number; skip?: number; depth?: number },
  explain: { what: string; hint: string },
  options: { signal?: AbortSignal } = {},
): Promise<GitCommit[]> {
  const skip = want.skip ?? 0;
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-commits-'));
  try {
    await git(dir, options).raw(['init', '--quiet', '--bare']);
    try {
      // Blobs are never needed to read commits; the server may ignore the filter, which costs bytes, not correctness.
      // A host that stops sending for STALL_SECONDS ends the fetch: `signal` stops git, but not the transport helper
      // (git-remote-https) it started, which would otherwise wait on a silent host forever.
      await git(dir, options).raw(['-c', 'http.lowSpeedLimit=1', '-c', `http.lowSpeedTime=${STALL_SECONDS}`, 'fetch', '--quiet', '--no-tags', `--depth=${want.depth ?? skip + want.count}`, '--filter=blob:none', '--', gitUrl, want.source]);
    } catch (err) {
      const first = String((err as Error).message).split('\n').find((l) => l.trim()) ?? 'unknown error';
      throw new BitEnvoyError('BE_GIT', `cannot ${explain.what} in ${withoutCredentials(gitUrl)}: ${withoutCredentials(first.trim())}; ${explain.hint}`, { cause: err });
    }
    const out = await git(dir, options).raw(['log', '--format=%H%x1f%s%x1f%an%x1f%cI', `--skip=${skip}`, '-n', String(want.count), 'FETCH_HEAD']);
    return out
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [sha, title, author, at] = line.split('\x1f');
        return { sha: sha!, title: title ?? '', author: author ?? '', at: at ?? '' };
      });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
