/**
 * Reading a commit's check runs and statuses through a real `ProbotOctokit`, GitHub answered by nock page by page.
 * Every request is checked against GitHub's REST description: method and path (github.com and GHES), and each query
 * parameter against the parameters the operation declares.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import nock from 'nock';
import { ProbotOctokit } from 'probot';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { evaluateChecks } from '../../app/github/evaluate-checks.js';
import { listCommitChecks, MAX_PAGES, toCommitChecks, type CheckRunItem, type CommitCheck, type CommitStatusItem } from '../../app/github/list-commit-checks.js';
import { loadGitHubContract, type GitHubContract } from '../../testbed/github-contract.js';

const OWNER = 'acme';
const REPO = 'shop';
const SHA = 'f'.repeat(40);
const CHECK_RUNS = `/repos/${OWNER}/${REPO}/commits/${SHA}/check-runs`;
const STATUS = `/repos/${OWNER}/${REPO}/commits/${SHA}/status`;
const at = '2026-11-25T10:00:00Z';

interface Parameter {
  name: string;
  in: string;
  schema?: { type?: string; enum?: string[] };
}
interface Spec {
  paths: Record<string, Record<string, { parameters?: Array<Parameter | { $ref: string }> }>>;
  components: { parameters: Record<string, Parameter> };
}

let contracts: GitHubContract[];
let spec: Spec;
let seen: URL[];

beforeAll(async () => {
  contracts = await Promise.all([loadGitHubContract('api.github.com'), loadGitHubContract('ghes-3.19')]);
  // Only github.com's description file: the package's index would load every description there is.
  const pkg = createRequire(import.meta.url).resolve('@octokit/openapi/package.json');
  spec = JSON.parse(await readFile(join(dirname(pkg), 'generated', 'api.github.com.json'), 'utf8')) as Spec;
});

afterEach(() => {
  nock.cleanAll();
});

/** Why GitHub's description would not accept these query parameters on a GET of `path` (the contract helper skips queries). */
function queryProblems(path: string, query: URLSearchParams): string[] {
  const template = Object.keys(spec.paths)
    .filter((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path))
    .sort((a, b) => b.replace(/\{[^}]+\}/g, '').length - a.replace(/\{[^}]+\}/g, '').length)[0];
  if (!template) return [`no operation for ${path}`];
  const declared = new Map(
    (spec.paths[template]!.get?.parameters ?? [])
      .map((p) => ('$ref' in p ? spec.components.parameters[p.$ref.split('/').pop()!]! : p))
      .filter((p) => p.in === 'query')
      .map((p) => [p.name, p.schema ?? {}]),
  );
  const problems: string[] = [];
  for (const [name, value] of query) {
    const schema = declared.get(name);
    if (!schema) problems.push(`GET ${template} declares no query parameter ${name}`);
    else if (schema.enum && !schema.enum.includes(value)) problems.push(`GET ${template}: ${name}=${value} is not one of ${schema.enum.join(', ')}`);
    else if (schema.type === 'integer' && !/^\d+$/.test(value)) problems.push(`GET ${template}: ${name}=${value} is not an integer`);
  }
  return problems;
}

/** GitHub's pages for one listing: page n answers only the exact query the hub must send for it. */
function serve(path: string, pages: unknown[], query: Record<string, string> = {}): void {
  const scope = nock('https://api.github.com');
  pages.forEach((body, i) => {
    scope
      .get(path)
      .query({ ...query, per_page: '100', page: String(i + 1) })
      // nock 15 hands a reply function the fetch `Request` it intercepted.
      .reply(200, (request: Request) => {
        seen.push(new URL(request.url));
        return body;
      });
  });
}

function serveCheckRuns(total: number, pages: CheckRunItem[][]): void {
  serve(
    CHECK_RUNS,
    pages.map((check_runs) => ({ total_count: total, check_runs })),
    { filter: 'all' },
  );
}

function serveStatuses(total: number, pages: CommitStatusItem[][]): void {
  serve(
    STATUS,
    pages.map((statuses) => ({ state: 'pending', sha: SHA, total_count: total, statuses })),
  );
}

/** Every answer given was asked for, and every request conforms to GitHub's REST description. */
function expectGitHubSatisfied(requests: number): void {
  expect(nock.pendingMocks()).toEqual([]);
  expect(nock.isDone()).toBe(true);
  expect(seen).toHaveLength(requests);
  for (const url of seen) {
    expect(contracts.flatMap((c) => c.problems('GET', url.pathname))).toEqual([]);
    expect(queryProblems(url.pathname, url.searchParams)).toEqual([]);
  }
}

const octokit = () => new (ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }))({ auth: { token: 'ghs_test' } });
const chunk = <T>(items: T[], size = 100): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
const run = (id: number, name: string, status: string, conclusion: string | null, startedAt = at): CheckRunItem => ({
  id,
  name,
  status,
  conclusion,
  started_at: startedAt,
  completed_at: status === 'completed' ? startedAt : null,
  app: { id: 15368 },
});
const count = (checks: CommitCheck[], kind: CommitCheck['kind'], state: CommitCheck['state']) => checks.filter((c) => c.kind === kind && c.state === state).length;

describe('listCommitChecks', () => {
  it('reads 230 check runs over 3 pages and 130 statuses over 2 pages: 5 requests', async () => {
    seen = [];
    const runs = Array.from({ length: 230 }, (_, i) => (i % 10 === 0 ? run(i + 1, `check-${i}`, 'queued', null) : i % 10 === 1 ? run(i + 1, `check-${i}`, 'completed', 'timed_out') : run(i + 1, `check-${i}`, 'completed', 'success')));
    const statuses = Array.from({ length: 130 }, (_, i) => ({ id: i + 1, context: `ci/${i}`, state: i % 2 ? 'success' : 'pending', updated_at: at }));
    serveCheckRuns(230, chunk(runs));
    serveStatuses(130, chunk(statuses));

    const { checks, requests, incomplete } = await listCommitChecks(octokit(), { owner: OWNER, repo: REPO, sha: SHA });

    expect([checks.length, requests, incomplete]).toEqual([360, 5, undefined]);
    expect([count(checks, 'check_run', 'pending'), count(checks, 'check_run', 'failure'), count(checks, 'check_run', 'success')]).toEqual([23, 23, 184]);
    expect([count(checks, 'status', 'pending'), count(checks, 'status', 'success')]).toEqual([65, 65]);
    expect(checks.find((c) => c.name === 'check-229')).toEqual({ name: 'check-229', kind: 'check_run', state: 'success', conclusion: 'success', at });
    expect(checks.find((c) => c.name === 'ci/129')).toEqual({ name: 'ci/129', kind: 'status', state: 'success', conclusion: 'success', at });
    expect(seen.map((u) => `${u.pathname.split('/').pop()} ${u.searchParams.get('page')}`).sort()).toEqual(['check-runs 1', 'check-runs 2', 'check-runs 3', 'status 1', 'status 2']);
    expectGitHubSatisfied(5);
  });

  it('keeps one entry for a check that failed and passed when re-run', async () => {
    seen = [];
    // GitHub lists the newest first.
    serveCheckRuns(3, [[run(12, 'test', 'completed', 'success', '2026-11-25T10:05:00Z'), run(11, 'test', 'completed', 'failure'), run(10, 'lint', 'completed', 'neutral')]]);
    serveStatuses(0, [[]]);

    const { checks, requests } = await listCommitChecks(octokit(), { owner: OWNER, repo: REPO, sha: SHA });

    expect(checks).toEqual([
      { name: 'test', kind: 'check_run', state: 'success', conclusion: 'success', at: '2026-11-25T10:05:00Z' },
      { name: 'lint', kind: 'check_run', state: 'success', conclusion: 'neutral', at },
    ]);
    expect(requests).toBe(2);
    expect(evaluateChecks(['test', 'lint'], checks).verdict).toBe('green');
    expectGitHubSatisfied(2);
  });

  it('stops paging on an empty page and says what it could not read', async () => {
    seen = [];
    serveCheckRuns(250, [chunk(Array.from({ length: 100 }, (_, i) => run(i + 1, `check-${i}`, 'completed', 'success')))[0]!, []]);
    serveStatuses(1, [[{ id: 1, context: 'ci/jenkins', state: 'success', updated_at: at }]]);

    const { checks, requests, incomplete } = await listCommitChecks(octokit(), { owner: OWNER, repo: REPO, sha: SHA });

    expect([checks.length, requests, incomplete]).toEqual([101, 3, 'check runs: read 100 of 250, page 2 came back empty']);
    // All it read passed, but what it did not read may have failed: no deployment on it.
    expect(evaluateChecks('all', checks, { incomplete }).verdict).toBe('pending');
    expectGitHubSatisfied(3);
  });

  it(`stops after ${MAX_PAGES} pages of a listing that never ends`, async () => {
    seen = [];
    const runs = Array.from({ length: MAX_PAGES * 100 }, (_, i) => run(i + 1, `check-${i}`, 'completed', 'success'));
    serveCheckRuns(1_000_000, chunk(runs));
    serveStatuses(0, [[]]);

    const { checks, requests, incomplete } = await listCommitChecks(octokit(), { owner: OWNER, repo: REPO, sha: SHA });

    expect([checks.length, requests, incomplete]).toEqual([5000, 51, 'check runs: read 5000 of 1000000, stopped after 50 pages']);
    expectGitHubSatisfied(51);
  });
});

describe('toCommitChecks', () => {
  it.each<[string, string, string | null, CommitCheck['state']]>([
    ['queued', 'queued', null, 'pending'],
    ['in progress', 'in_progress', null, 'pending'],
    ['waiting (GitHub Actions)', 'waiting', null, 'pending'],
    ['success', 'completed', 'success', 'success'],
    ['neutral', 'completed', 'neutral', 'success'],
    ['skipped', 'completed', 'skipped', 'success'],
    ['failure', 'completed', 'failure', 'failure'],
    ['cancelled', 'completed', 'cancelled', 'failure'],
    ['timed out', 'completed', 'timed_out', 'failure'],
    ['action required', 'completed', 'action_required', 'failure'],
    ['stale', 'completed', 'stale', 'failure'],
    ['startup failure', 'completed', 'startup_failure', 'failure'],
    ['completed without a conclusion', 'completed', null, 'failure'],
  ])('a check run %s is %s', (_what, status, conclusion, state) => {
    const [check] = toCommitChecks([run(1, 'test', status, conclusion)], []);
    expect(check).toEqual({ name: 'test', kind: 'check_run', state, conclusion: conclusion ?? (status === 'completed' ? 'unknown' : status), at });
  });

  it.each<[string, CommitCheck['state']]>([
    ['success', 'success'],
    ['pending', 'pending'],
    ['failure', 'failure'],
    ['error', 'failure'],
  ])('a commit status %s is %s', (state, expected) => {
    expect(toCommitChecks([], [{ context: 'ci/jenkins', state, updated_at: at }])).toEqual([{ name: 'ci/jenkins', kind: 'status', state: expected, conclusion: state, at }]);
  });

  it('keeps same-named runs of different apps apart, and the newest of each (by start, then id)', () => {
    const checks = toCommitChecks(
      [
        { ...run(5, 'build', 'completed', 'failure'), app: { id: 1 } },
        { ...run(4, 'build', 'completed', 'success'), app: { id: 2 } },
        { ...run(3, 'build', 'completed', 'success'), app: { id: 1 } },
        { ...run(7, 'lint', 'completed', 'success'), app: { id: 1 } },
        { ...run(6, 'lint', 'completed', 'failure', '2026-11-25T10:01:00Z'), app: { id: 1 } },
      ],
      [],
    );
    expect(checks.map((c) => [c.name, c.state])).toEqual([
      ['build', 'failure'],
      ['build', 'success'],
      ['lint', 'failure'],
    ]);
  });
});
