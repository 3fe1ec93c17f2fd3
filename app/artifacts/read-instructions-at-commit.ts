/**
 * The deployed commit's instruction file as the hub reads it when planning (to resolve the artifacts it declares):
 * over git in local mode — a depth-1, blob-less fetch of exactly that commit into a throwaway bare directory, then
 * `git show` of the one file (its blob fetched alone) —
 * and through `GET /repos/{owner}/{repo}/contents/{path}?ref={sha}` in GitHub mode. Undefined when the commit has no
 * such file (the agent then fails the job saying so); a file that cannot be read at all is an error naming why.
 *
 * @example
 * const text = await readInstructionsOverGit({ gitUrl, sha, instructions: 'bitenvoy.yml' });
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_CONFIG_FILE_BYTES } from '../../config-schema/validate-yaml-file.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { git } from '../../lib/git.js';
import { withoutCredentials } from '../../lib/redact-url.js';

export interface InstructionsTarget {
  repository: string;
  gitUrl: string;
  sha: string;
  /** The instruction file's path in the commit (the repository config's `instructions`). */
  instructions: string;
  installationId?: number;
}

export type ReadInstructions = (target: InstructionsTarget) => Promise<string | undefined>;

/** Local mode: the file from the commit, over git. */
export const readInstructionsOverGit: ReadInstructions = async ({ gitUrl, sha, instructions }) => {
  if (!/^[0-9a-f]{40}$/.test(sha) || instructions.startsWith('-')) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-instructions-'));
  try {
    // A partial clone of one commit without its blobs; reading the one file then fetches that blob alone (a host
    // that does not filter sends the commit's tree whole: bytes, not correctness).
    await git(dir).raw(['init', '--quiet', '--bare']);
    await git(dir).raw(['remote', 'add', 'origin', '--', gitUrl]);
    await git(dir).raw(['config', 'remote.origin.promisor', 'true']);
    await git(dir).raw(['config', 'remote.origin.partialclonefilter', 'blob:none']);
    try {
      await git(dir).raw(['-c', 'http.lowSpeedLimit=1', '-c', 'http.lowSpeedTime=5', 'fetch', '--quiet', '--no-tags', '--depth=1', '--filter=blob:none', 'origin', sha]);
    } catch (err) {
      throw new BitEnvoyError('BE_GIT', `cannot read ${instructions} of ${sha.slice(0, 7)} from ${withoutCredentials(gitUrl)} to find its artifacts: ${firstLine(err)}`, { cause: err });
    }
    const size = await git(dir).raw(['cat-file', '-s', `${sha}:${instructions}`]).catch(() => undefined);
    if (size === undefined) return undefined;
    if (Number(size) > MAX_CONFIG_FILE_BYTES) return undefined; // the agent says the file is too large
    return await git(dir).raw(['show', `${sha}:${instructions}`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

/** What GitHub mode needs of an installation's Octokit. */
export interface ContentsOctokit {
  request(route: string, params: Record<string, unknown>): Promise<unknown>;
}

/** GitHub mode: the file through the contents API with the installation's token. */
export function readInstructionsOnGitHub(octokitFor: (target: InstructionsTarget) => Promise<ContentsOctokit | undefined>, fallback: ReadInstructions): ReadInstructions {
  return async (target) => {
    const octokit = await octokitFor(target);
    if (!octokit) return fallback(target);
    const [owner, repo] = target.repository.split('/') as [string, string];
    try {
      const { data } = (await octokit.request('GET /repos/{owner}/{repo}/contents/{path}', { owner, repo, path: target.instructions, ref: target.sha })) as { data: unknown };
      const file = data as { type?: string; encoding?: string; content?: string };
      if (file.type !== 'file' || file.encoding !== 'base64' || typeof file.content !== 'string') return undefined;
      return Buffer.from(file.content, 'base64').toString('utf8');
    } catch (err) {
      if ((err as { status?: number }).status === 404) return undefined;
      throw new BitEnvoyError('BE_ARTIFACT', `cannot read ${target.instructions} of ${target.sha.slice(0, 7)} in ${target.repository} from GitHub to find its artifacts: ${(err as Error).message}`, { cause: err });
    }
  };
}

function firstLine(err: unknown): string {
  return withoutCredentials((String((err as Error).message).split('\n').find((l) => l.trim()) ?? 'unknown error').trim());
}

/**
 * `read` with its answers kept per repository, commit and path (a commit's file never changes): an automatic deploy
 * looks at a commit's artifacts before it makes the deployment, and the plan again — the file is read once. A failed
 * read is not kept.
 *
 * @example
 * const readInstructions = cachedInstructions(readInstructionsOverGit);
 */
export function cachedInstructions(read: ReadInstructions, max = 1000): ReadInstructions {
  const kept = new Map<string, Promise<string | undefined>>();
  return (target) => {
    const key = `${target.repository}\u0000${target.sha}\u0000${target.instructions}`;
    const known = kept.get(key);
    if (known) return known;
    const answer = read(target);
    kept.set(key, answer);
    answer.catch(() => kept.delete(key));
    // Oldest first out: a Map iterates in insertion order.
    if (kept.size > max) kept.delete(kept.keys().next().value!);
    return answer;
  };
}
