/**
 * Everything that reported on a commit: its check runs and its commit statuses, read page by page (a commit may have
 * more than 100 of either) and normalised into one list of {@link CommitCheck}s, the newest run of each check kept.
 */

/** The part of an Octokit this module uses (a `ProbotOctokit` fits). */
export interface ChecksOctokit {
  request(route: string, params: Record<string, unknown>): Promise<unknown>;
}

/** One check run or commit status, reduced to what deciding a deployment needs. */
export interface CommitCheck {
  /** A check run's name or a commit status's context, e.g. `test` or `ci/jenkins`. */
  name: string;
  kind: 'check_run' | 'status';
  state: 'pending' | 'success' | 'failure';
  /** GitHub's own word, for people: a conclusion (`neutral`, `timed_out`), a run's status (`queued`), a status's state (`error`). */
  conclusion: string;
  /** When it last changed (ISO 8601), or `''` when GitHub did not say. */
  at: string;
}

/** A check run as `GET /repos/{owner}/{repo}/commits/{ref}/check-runs` lists it (the fields read here). */
export interface CheckRunItem {
  id: number;
  name: string;
  status: string;
  conclusion: string | null;
  started_at: string | null;
  completed_at: string | null;
  app?: { id?: number | null } | null;
}

/** A commit status as `GET /repos/{owner}/{repo}/commits/{ref}/status` lists it (the fields read here). */
export interface CommitStatusItem {
  id?: number;
  context: string;
  state: string;
  updated_at: string;
}

export interface CommitChecks {
  checks: CommitCheck[];
  /** REST requests made, both listings together. */
  requests: number;
  /** Set when GitHub's answers stopped before everything was read: what is missing, for people. Never deploy on it. */
  incomplete?: string;
}

/** GitHub's largest page. */
const PER_PAGE = 100;
/** 5,000 of each is far beyond any real commit: a server that keeps answering full pages must not keep us paging. */
export const MAX_PAGES = 50;
const PASSING_CONCLUSIONS = new Set(['success', 'neutral', 'skipped']);

/**
 * Reads every check run (`filter: 'all'`, so re-runs too) and every commit status of a commit, both listings paged
 * until their `total_count` is read. When GitHub answers an empty page too early, or the page cap is reached, the
 * checks read so far come back with `incomplete` saying so.
 *
 * @example
 * const { checks, incomplete } = await listCommitChecks(octokit, { owner: 'acme', repo: 'shop', sha });
 * evaluateChecks(['test'], checks, { incomplete }); // never green on a partial listing
 */
export async function listCommitChecks(octokit: ChecksOctokit, args: { owner: string; repo: string; sha: string }): Promise<CommitChecks> {
  const where = { owner: args.owner, repo: args.repo, ref: args.sha, per_page: PER_PAGE };
  const [runs, statuses] = await Promise.all([
    readPages<CheckRunItem>('check runs', async (page) => {
      const { data } = (await octokit.request('GET /repos/{owner}/{repo}/commits/{ref}/check-runs', { ...where, filter: 'all', page })) as { data: { total_count: number; check_runs?: CheckRunItem[] } };
      return { total: data.total_count, items: data.check_runs ?? [] };
    }),
    readPages<CommitStatusItem>('commit statuses', async (page) => {
      const { data } = (await octokit.request('GET /repos/{owner}/{repo}/commits/{ref}/status', { ...where, page })) as { data: { total_count: number; statuses?: CommitStatusItem[] } };
      return { total: data.total_count, items: data.statuses ?? [] };
    }),
  ]);
  const incomplete = [runs.incomplete, statuses.incomplete].filter(Boolean).join('; ');
  return { checks: toCommitChecks(runs.items, statuses.items), requests: runs.requests + statuses.requests, ...(incomplete ? { incomplete } : {}) };
}

/**
 * Normalises raw check runs and commit statuses. A re-run replaces the run before it: of the check runs with one
 * name, the one started last counts (then the higher id). Runs of the same name from different apps are different
 * checks and all stay, as does a status sharing a check run's name — GitHub requires both then.
 *
 * @example
 * toCommitChecks([{ id: 1, name: 'test', status: 'completed', conclusion: 'failure', … }, { id: 2, name: 'test', conclusion: 'success', … }], []);
 * // [{ name: 'test', kind: 'check_run', state: 'success', conclusion: 'success', at: '…' }]
 */
export function toCommitChecks(checkRuns: CheckRunItem[], statuses: CommitStatusItem[]): CommitCheck[] {
  const runs = newest(checkRuns, (r) => `${r.app?.id ?? ''}\u0000${r.name}`, (r) => r.started_at ?? r.completed_at, (r) => r.id);
  // The combined status already holds the newest status per context; kept newest here too in case a server repeats one.
  const contexts = newest(statuses, (s) => s.context, (s) => s.updated_at, (s) => s.id ?? 0);
  return [...runs.map(fromCheckRun), ...contexts.map(fromStatus)];
}

function fromCheckRun(run: CheckRunItem): CommitCheck {
  const at = run.completed_at ?? run.started_at ?? '';
  if (run.status !== 'completed') return { name: run.name, kind: 'check_run', state: 'pending', conclusion: run.status, at };
  // A conclusion GitHub has not told us about (or none at all) must not deploy anything.
  const conclusion = run.conclusion ?? 'unknown';
  return { name: run.name, kind: 'check_run', state: PASSING_CONCLUSIONS.has(conclusion) ? 'success' : 'failure', conclusion, at };
}

function fromStatus(status: CommitStatusItem): CommitCheck {
  const state = status.state === 'success' ? 'success' : status.state === 'pending' ? 'pending' : 'failure';
  return { name: status.context, kind: 'status', state, conclusion: status.state, at: status.updated_at };
}

/** The newest item per key, in the order the keys first appear. Unparseable or equal times fall back to the id. */
function newest<T>(items: T[], key: (item: T) => string, time: (item: T) => string | null, id: (item: T) => number): T[] {
  const kept = new Map<string, T>();
  for (const item of items) {
    const seen = kept.get(key(item));
    if (!seen) {
      kept.set(key(item), item);
      continue;
    }
    const [a, b] = [Date.parse(time(item) ?? ''), Date.parse(time(seen) ?? '')];
    const newer = !Number.isNaN(a) && !Number.isNaN(b) && a !== b ? a > b : id(item) > id(seen);
    if (newer) kept.set(key(item), item);
  }
  return [...kept.values()];
}

/** Pages until `total` items are read, an empty page comes, or {@link MAX_PAGES} were asked for. */
async function readPages<T>(what: string, fetchPage: (page: number) => Promise<{ total: number; items: T[] }>): Promise<{ items: T[]; requests: number; incomplete?: string }> {
  const items: T[] = [];
  let total = 0;
  for (let page = 1; page <= MAX_PAGES; page++) {
    const answer = await fetchPage(page);
    total = answer.total;
    if (answer.items.length === 0) {
      // An empty page before the total is a server (or a listing changing under us) we cannot trust to go on.
      return items.length < total ? { items, requests: page, incomplete: `${what}: read ${items.length} of ${total}, page ${page} came back empty` } : { items, requests: page };
    }
    items.push(...answer.items);
    if (items.length >= total) return { items, requests: page };
  }
  return { items, requests: MAX_PAGES, incomplete: `${what}: read ${items.length} of ${total}, stopped after ${MAX_PAGES} pages` };
}
