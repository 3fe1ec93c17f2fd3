/**
 * Everything that reported on a commit: its check runs and its commit statuses, read page by page (a commit may have
 * more than 100 of either), the newest run of each name kept.
 *
 * @example
 * const { checks } = await listCommitChecks(octokit, { owner: 'acme', repo: 'shop', sha });
 * evaluateChecks(['test'], checks);
 */
import type { StatusOctokit } from './status-reporter.js';

export interface CommitCheck {
  name: string;
  kind: 'check_run' | 'status';
  state: 'pending' | 'success' | 'failure';
  /** GitHub's own word: a check run's conclusion or status, or a commit status's state. */
  conclusion: string;
  at: string;
  id: number;
}

const PER_PAGE = 100;
/** A server that keeps answering full pages must not keep the hub paging forever. */
const MAX_PAGES = 50;
const PASSING = new Set(['success', 'neutral', 'skipped']);

interface CheckRunsPage {
  total_count: number;
  check_runs: Array<{ id: number; name: string; status: string; conclusion: string | null; started_at: string | null; completed_at: string | null }>;
}

interface CombinedStatusPage {
  total_count: number;
  statuses: Array<{ id: number; context: string; state: string; updated_at: string; created_at?: string }>;
}

export async function listCommitChecks(octokit: StatusOctokit, args: { owner: string; repo: string; sha: string }): Promise<{ checks: CommitCheck[]; requests: number }> {
  let requests = 0;
  const runs: CommitCheck[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    requests++;
    const { data } = (await octokit.request('GET /repos/{owner}/{repo}/commits/{ref}/check-runs', { owner: args.owner, repo: args.repo, ref: args.sha, filter: 'all', per_page: PER_PAGE, page })) as { data: CheckRunsPage };
    for (const run of data.check_runs) {
      const done = run.status === 'completed';
      const conclusion = done ? (run.conclusion ?? 'neutral') : run.status;
      runs.push({ name: run.name, kind: 'check_run', state: !done ? 'pending' : PASSING.has(conclusion) ? 'success' : 'failure', conclusion, at: run.completed_at ?? run.started_at ?? '', id: run.id });
    }
    if (data.check_runs.length < PER_PAGE || page * PER_PAGE >= data.total_count) break;
  }
  const statuses: CommitCheck[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    requests++;
    const { data } = (await octokit.request('GET /repos/{owner}/{repo}/commits/{ref}/status', { owner: args.owner, repo: args.repo, ref: args.sha, per_page: PER_PAGE, page })) as { data: CombinedStatusPage };
    for (const s of data.statuses) {
      statuses.push({ name: s.context, kind: 'status', state: s.state === 'success' ? 'success' : s.state === 'pending' ? 'pending' : 'failure', conclusion: s.state, at: s.updated_at, id: s.id });
    }
    if (data.statuses.length < PER_PAGE || page * PER_PAGE >= data.total_count) break;
  }
  return { checks: newestPerName([...runs, ...statuses]), requests };
}

/** A re-run replaces the run before it: the newest of each name counts (later time, then higher id). */
export function newestPerName(checks: CommitCheck[]): CommitCheck[] {
  const newest = new Map<string, CommitCheck>();
  for (const check of checks) {
    const seen = newest.get(check.name);
    if (!seen || check.at > seen.at || (check.at === seen.at && check.id > seen.id)) newest.set(check.name, check);
  }
  return [...newest.values()];
}
