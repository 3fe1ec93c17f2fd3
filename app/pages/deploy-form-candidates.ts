/**
 * What the deploy page offers: the environment branch's recent commits and each commit's checks. In local mode the
 * commits come from the repository's `git:` URL over git (a shallow fetch of one branch into a throwaway directory,
 * blobs left out) and there are no checks; in GitHub mode from the GitHub API with the installation's token, a page
 * at a time, and each commit's checks are read and judged as automatic deploys judge them (list-commit-checks.ts,
 * evaluate-checks.ts). Answers are kept a short while (bounded; in local mode keyed by the branch's head), so
 * reloading the page does not ask again.
 *
 * @example
 * const source = localCandidates();
 * const { commits, more } = await source.recentCommits({ repository: 'acme/shop', gitUrl, branch: 'main', page: 1 });
 * const checks = await source.checks({ repository: 'acme/shop', sha: commits[0].sha, required: 'all' });
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { CONFIG_CHECK_NAME } from '../github/config-check-run.js';
import { evaluateChecks } from '../github/evaluate-checks.js';
import { listCommitChecks, type ChecksOctokit } from '../github/list-commit-checks.js';
import { commitTitle } from '../rollout/describe-commit.js';
import { readCommitsOverGit } from '../rollout/read-commits-over-git.js';
import { resolveRef } from '../rollout/resolve-ref.js';

/** Commits a page lists; the page number is capped, so a page never fetches more than this × MAX_PAGE commits. */
export const COMMITS_PER_PAGE = 10;
export const MAX_PAGE = 10;
/** How long an answer is believed, and how many are kept. */
const TTL_MS = 30_000;
const MAX_ENTRIES = 1000;
/** A branch name as git allows it, and no option (`-…`). */
const BRANCH = /^(?!-)(?!.*\.\.)[\p{L}\p{N}._/+@-]{1,255}$/u;

export interface Candidate {
  sha: string;
  /** The first line of the commit message. */
  title: string;
  author: string;
  /** ISO 8601, or '' when unknown. */
  at: string;
}

export interface CandidateChecks {
  /** `none`: local mode, where nothing reports checks. */
  verdict: 'green' | 'red' | 'pending' | 'none';
  /** One sentence for people; for `red`, it names the failing checks. */
  description: string;
}

export interface CandidateSource {
  recentCommits(args: { repository: string; gitUrl?: string | undefined; branch: string; page: number }): Promise<{ commits: Candidate[]; more: boolean }>;
  /** `fresh`: asked again, not from what was kept (before a deployment starts). */
  checks(args: { repository: string; sha: string; required: string[] | 'all'; fresh?: boolean }): Promise<CandidateChecks>;
}

/** Local mode: commits over git from the configured URL; no checks. */
export function localCandidates(): CandidateSource {
  const cache = new Cache<{ commits: Candidate[]; more: boolean }>();
  return {
    recentCommits: async ({ repository, gitUrl, branch, page }) => {
      if (!gitUrl) throw new BitEnvoyError('BE_DEPLOY_REJECTED', `${repository} has no \`git\` URL in its config file: add \`git: https://…/${repository}.git\` so the hub can list its commits`);
      checkBranch(branch);
      // Keyed by the branch's head (one `git ls-remote`): a push shows at once, a reload of the same head fetches nothing.
      return resolveRef(gitUrl, branch).then((head) => cache.get(`${gitUrl} ${head} ${page}`, false, () => commitsOverGit(gitUrl, branch, page)));
    },
    checks: async () => ({ verdict: 'none', description: 'no checks in local mode' }),
  };
}

/** GitHub mode: commits and checks from the GitHub API with the repository's installation token. */
export function githubCandidates(octokitFor: (repository: string) => Promise<ChecksOctokit | undefined>): CandidateSource {
  const commits = new Cache<{ commits: Candidate[]; more: boolean }>();
  const verdicts = new Cache<CandidateChecks>();
  const octokit = async (repository: string): Promise<ChecksOctokit> => {
    const found = await octokitFor(repository);
    if (!found) throw new BitEnvoyError('BE_DEPLOY_REJECTED', `the GitHub App is not installed on ${repository}: install it there so the hub can list its commits and checks`);
    return found;
  };
  return {
    recentCommits: ({ repository, branch, page }) =>
      commits.get(`${repository} ${branch} ${page}`, false, async () => {
        checkBranch(branch);
        const [owner, repo] = repository.split('/') as [string, string];
        const res = (await (await octokit(repository)).request('GET /repos/{owner}/{repo}/commits', { owner, repo, sha: branch, per_page: COMMITS_PER_PAGE, page: pageOf(page) })) as {
          data: Array<{ sha: string; commit: { message: string; author: { name?: string; date?: string } | null } }>;
        };
        const list = res.data.slice(0, COMMITS_PER_PAGE).map((c) => ({ sha: c.sha, title: commitTitle(c.commit.message), author: c.commit.author?.name ?? '', at: c.commit.author?.date ?? '' }));
        return { commits: list, more: res.data.length === COMMITS_PER_PAGE && page < MAX_PAGE };
      }),
    checks: ({ repository, sha, required, fresh }) =>
      verdicts.get(`${repository} ${sha} ${JSON.stringify(required)}`, fresh === true, async () => {
        const [owner, repo] = repository.split('/') as [string, string];
        const { checks, incomplete } = await listCommitChecks(await octokit(repository), { owner, repo, sha });
        const verdict = evaluateChecks(required, checks, { ignore: [CONFIG_CHECK_NAME], ...(incomplete ? { incomplete } : {}) });
        return { verdict: verdict.verdict, description: verdict.description };
      }),
  };
}

async function commitsOverGit(gitUrl: string, branch: string, page: number): Promise<{ commits: Candidate[]; more: boolean }> {
  checkBranch(branch);
  const n = pageOf(page);
  // One more than the page, to know whether another page follows.
  const all = await readCommitsOverGit(
    gitUrl,
    { source: `refs/heads/${branch}`, skip: (n - 1) * COMMITS_PER_PAGE, count: COMMITS_PER_PAGE + 1, depth: n * COMMITS_PER_PAGE + 1 },
    { what: `list the commits of \`${branch}\``, hint: "check the branch in the environment's config and that the hub can reach the repository" },
  );
  return { commits: all.slice(0, COMMITS_PER_PAGE), more: all.length > COMMITS_PER_PAGE && n < MAX_PAGE };
}

function checkBranch(branch: string): void {
  if (!BRANCH.test(branch)) throw new BitEnvoyError('BE_BAD_REQUEST', `\`${branch.slice(0, 100)}\` is not a branch name git accepts; fix \`branch\` in the environment's config`);
}

function pageOf(page: number): number {
  return Math.min(Math.max(1, Math.floor(page)), MAX_PAGE);
}

/** Answers by key for TTL_MS, at most MAX_ENTRIES of them; a failure is not kept. */
class Cache<T> {
  #entries = new Map<string, { value: Promise<T>; until: number }>();

  get(key: string, fresh: boolean, ask: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.#entries.get(key);
    if (!fresh && hit && hit.until > now) return hit.value;
    const value = ask();
    this.#entries.delete(key);
    this.#entries.set(key, { value, until: now + TTL_MS });
    value.catch(() => {
      if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
    });
    while (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    return value;
  }
}
