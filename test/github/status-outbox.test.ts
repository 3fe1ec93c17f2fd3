/**
 * GitHub Deployment statuses are an outbox: a failed request is retried as GitHub asks (Retry-After, rate-limit
 * reset), a refused one is not, the final state is recorded on the deployment once GitHub took it, and a hub killed
 * at any point sends what it still owed after a restart — each final state exactly once, even when GitHub took it
 * but the hub never heard back. Real SQLite store, real HTTP to a GitHub stand-in checked against GitHub's REST
 * description.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitHubStatusReporter, type StatusOctokit, type StatusReporterOptions } from '../../app/github/status-reporter.js';
import { listUnreportedGitHubDeployments } from '../../app/github/unreported-deployments.js';
import { keys, type DeploymentRecord } from '../../app/model.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import { capturedLogger, type LogLine } from '../helpers/captured-logger.js';
import { killableOctokit, startDeploymentStatusesStandIn, type DeploymentStatusesStandIn } from './deployment-statuses-stand-in.js';

let dir: string;
let store: Store;
let github: DeploymentStatusesStandIn;
let logLines: LogLine[];
const hubs: Array<{ kill(): void }> = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-outbox-'));
  store = await openStore({ dataDir: dir });
  github = await startDeploymentStatusesStandIn();
  logLines = [];
});

afterEach(async () => {
  for (const hub of hubs.splice(0)) hub.kill();
  await github.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});


/**
 * One run of a hub's reporter. `kill()` is the process dying: nothing it started reaches GitHub or the store any
 * more, and whatever it was waiting for never comes back to it.
 */
function startReporter(options: Partial<StatusReporterOptions> = {}, onStore = store) {
  let dead = false;
  const quiet = () => undefined;
  const octokit = new Octokit({ baseUrl: github.url, auth: 'ghs_test', log: { debug: quiet, info: quiet, warn: quiet, error: quiet } });
  const octokitFor = async (): Promise<StatusOctokit> => killableOctokit(octokit, () => dead) as StatusOctokit;
  const log = capturedLogger(logLines);
  const reporter = new GitHubStatusReporter({
    octokitFor,
    log,
    publicUrl: 'https://hub.example',
    minIntervalMs: 0,
    store: onStore,
    openDeployments: () => listUnreportedGitHubDeployments(onStore),
    retry: { baseMs: 20, maxMs: 200 },
    ...options,
  });
  const hub = {
    reporter,
    kill() {
      dead = true;
      reporter.close();
    },
  };
  hubs.push(hub);
  return hub;
}

function deployment(n: number, state: DeploymentRecord['state'], extra: Partial<DeploymentRecord> = {}): DeploymentRecord {
  const at = new Date().toISOString();
  return {
    id: `dep_${n}`, repository: 'acme/shop', environment: 'staging', ref: 'main', sha: 'a'.repeat(40), state,
    description: state === 'in_progress' ? '1/2 servers · batch 1/1' : `2/2 servers ${state}`,
    strategy: 'all-at-once', group: 'web', configSha: 'c'.repeat(40), batches: [], currentBatch: 0, skipped: [],
    createdBy: 'test', createdAt: at, updatedAt: at, ...(state === 'in_progress' ? {} : { finishedAt: at }),
    github: { installationId: 1, owner: 'acme', repo: 'shop', deploymentId: n, cloneUrl: 'https://github.com/acme/shop.git' },
    ...extra,
  };
}

/** What the engine does: store the record, then tell the reporter. */
async function finish(reporter: GitHubStatusReporter | undefined, dep: DeploymentRecord): Promise<void> {
  await store.set(keys.deployment(dep.id), dep);
  reporter?.changed(dep);
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const reported = async (id: string) => (await store.get<DeploymentRecord>(keys.deployment(id)))?.githubReported;
const states = (n: number) => (github.statuses.get(n) ?? []).map((s) => s.state);

describe('GitHub status outbox', () => {
  it('retries a status answered 502, then 403 with Retry-After: 1, until it lands, waiting as long as GitHub asked', async () => {
    const { reporter } = startReporter();
    github.faults.set(7, [{ status: 502 }, { status: 403, headers: { 'retry-after': '1' } }]);
    await finish(reporter, deployment(7, 'success'));
    await reporter.idle();

    const posts = github.posts(7);
    expect(posts.map((p) => p.answer)).toEqual([502, 403, 201]);
    expect(posts[2]!.at - posts[1]!.at).toBeGreaterThanOrEqual(995);
    // After the 502 GitHub may have taken it: it was read before each later POST.
    expect(github.requests.filter((r) => r.method === 'GET').map((r) => r.query)).toEqual(['?per_page=1', '?per_page=1']);
    expect(states(7)).toEqual(['success']);
    expect(await reported('dep_7')).toMatchObject({ state: 'success' });
    expect(github.problems).toEqual([]);
    expect(logLines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      expect.stringMatching(/^could not report "success" to GitHub for deployment 7 of acme\/shop \(dep_7\): GitHub answered 502 .*; retrying in /),
      expect.stringMatching(/GitHub answered 403 .*Retry-After 1 s; retrying in 1\.0 s/),
    ]);
  });

  it('waits until x-ratelimit-reset after a 403 that says the rate limit is used up', async () => {
    const { reporter } = startReporter();
    const reset = Math.ceil(Date.now() / 1000) + 1;
    github.faults.set(8, [{ status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) } }]);
    await finish(reporter, deployment(8, 'failure'));
    await reporter.idle();

    const posts = github.posts(8);
    expect(posts.map((p) => p.answer)).toEqual([403, 201]);
    expect(posts[1]!.at).toBeGreaterThanOrEqual(reset * 1000 - 5);
    // A rate-limited request was not done: nothing to read first.
    expect(github.requests.filter((r) => r.method === 'GET')).toEqual([]);
    expect(states(8)).toEqual(['failure']);
    expect(github.problems).toEqual([]);
  });

  it('stops at 404 with an error that says what to do, and records nothing', async () => {
    const { reporter } = startReporter();
    github.gone.add(9);
    await finish(reporter, deployment(9, 'success'));
    await reporter.idle();
    // Several backoffs' worth of time: no retry comes.
    await new Promise((r) => setTimeout(r, 300));

    expect(github.posts(9).map((p) => p.answer)).toEqual([404]);
    expect(await reported('dep_9')).toBeUndefined();
    expect(logLines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
      'GitHub refused the "success" status of deployment 9 of acme/shop (dep_9): GitHub answered 404 (Not Found - https://docs.github.com/rest/deployments/statuses#create-a-deployment-status). It is not sent again: the deployment was deleted on GitHub, or the App can no longer see the repository: check that the App is still installed on it with "Deployments: write"',
    ]);
  });

  it('takes a request that never answers or whose connection is cut as maybe done: it reads GitHub before posting again', async () => {
    const { reporter } = startReporter({ requestTimeoutMs: 300 });
    github.faults.set(10, [{ hang: true, record: true }]);
    github.faults.set(11, [{ reset: true }]);
    await finish(reporter, deployment(10, 'error'));
    await finish(reporter, deployment(11, 'success'));
    await reporter.idle();

    expect(github.posts(10).map((p) => p.answer)).toEqual(['hang']);
    expect(states(10)).toEqual(['error']);
    expect(github.posts(11).map((p) => p.answer)).toEqual(['reset', 201]);
    expect(github.requests.filter((r) => r.deploymentId === 11).map((r) => r.method)).toEqual(['POST', 'GET', 'POST']);
    expect(await reported('dep_10')).toMatchObject({ state: 'error' });
    expect(await reported('dep_11')).toMatchObject({ state: 'success' });
    // Sent late, the success must not make GitHub mark newer deployments of the environment inactive.
    expect(github.statuses.get(11)).toEqual([{ state: 'success', description: '2/2 servers success', auto_inactive: false }]);
    expect(github.problems).toEqual([]);
  });

  it('sends each final state exactly once across hubs killed with statuses owed at several points', async () => {
    const first = startReporter({ requestTimeoutMs: 60_000, retry: { baseMs: 60_000, maxMs: 60_000 } });
    await first.reporter.start();
    // 1: ended, killed before the reporter heard of it.
    await finish(undefined, deployment(1, 'success'));
    // 2: GitHub took the final status, the hub died before hearing back (so before recording it).
    github.faults.set(2, [{ hang: true, record: true }]);
    await finish(first.reporter, deployment(2, 'failure'));
    // 3: answered 502 without taking it; killed while waiting to retry.
    github.faults.set(3, [{ status: 502 }]);
    await finish(first.reporter, deployment(3, 'success'));
    // 4: answered 502 although GitHub took it; killed while waiting to retry.
    github.faults.set(4, [{ status: 502, record: true }]);
    await finish(first.reporter, deployment(4, 'cancelled', { description: 'stopped by @octocat' }));
    // 5: fully reported before the kill.
    await finish(first.reporter, deployment(5, 'success'));
    // 6: still running at the kill; its progress was sent.
    await finish(first.reporter, deployment(6, 'in_progress'));
    await until('every request of the first hub was made', async () =>
      [2, 3, 4, 5, 6].every((n) => github.posts(n).length === 1) && (await reported('dep_5')) !== undefined,
    );
    first.kill();
    expect(await reported('dep_2')).toBeUndefined();

    // The restarted hub opens the same store file.
    await store.close();
    store = await openStore({ dataDir: dir });
    const requestsBefore = github.requests.length;
    const second = startReporter();
    await second.reporter.start();
    await second.reporter.idle();
    // Its engine finishes the rollout that was running.
    await finish(second.reporter, { ...deployment(6, 'success'), updatedAt: new Date().toISOString() });
    await second.reporter.idle();

    expect(github.problems).toEqual([]);
    for (const [n, state] of [[1, 'success'], [2, 'failure'], [3, 'success'], [4, 'error'], [5, 'success'], [6, 'success']] as const) {
      expect(states(n).filter((s) => s === state), `deployment ${n}`).toEqual([state]);
      expect(states(n).at(-1), `deployment ${n}`).toBe(state);
    }
    expect(states(6)).toEqual(['in_progress', 'in_progress', 'success']);
    // 5 was done: the second hub asked GitHub nothing about it. 2 and 4 were only read.
    const after = github.requests.slice(requestsBefore);
    expect(after.filter((r) => r.deploymentId === 5)).toEqual([]);
    expect(after.filter((r) => r.deploymentId === 2 || r.deploymentId === 4).map((r) => r.method)).toEqual(['GET', 'GET']);
    // Sent after a restart, a success leaves newer deployments of the environment alone.
    expect(github.statuses.get(1)).toEqual([{ state: 'success', description: '2/2 servers success', auto_inactive: false }]);
    expect(await listUnreportedGitHubDeployments(store)).toEqual([]);
    for (const n of [1, 2, 3, 4, 5, 6]) expect((await reported(`dep_${n}`))?.state, `deployment ${n}`).toBe((await store.get<DeploymentRecord>(keys.deployment(`dep_${n}`)))!.state);
  });

  it('reads GitHub instead of posting again when told of a final state it already reported', async () => {
    const { reporter } = startReporter();
    await finish(reporter, deployment(12, 'failure'));
    await reporter.idle();
    // The engine announces the record again (e.g. its planned rollback started), githubReported and all.
    const again = (await store.get<DeploymentRecord>(keys.deployment('dep_12')))!;
    expect(again.githubReported?.state).toBe('failure');
    reporter.changed(again);
    await reporter.idle();
    expect(github.posts(12)).toHaveLength(1);
    expect(github.requests.filter((r) => r.deploymentId === 12).map((r) => r.method)).toEqual(['POST', 'GET']);
  });

  it('makes at most `limit` POSTs per window per installation, queueing final states instead of dropping them', async () => {
    const { reporter } = startReporter({ postLimit: { limit: 2, windowMs: 1000 } });
    for (const n of [20, 21, 22, 23, 24]) await finish(reporter, deployment(n, 'success'));
    const otherInstallation = deployment(25, 'success');
    await finish(reporter, { ...otherInstallation, github: { ...otherInstallation.github!, installationId: 2 } });
    await reporter.idle();

    const times = github.requests.filter((r) => r.method === 'POST' && r.deploymentId < 25).map((r) => r.at).sort((a, b) => a - b);
    expect(times).toHaveLength(5);
    for (let i = 2; i < times.length; i++) expect(times[i]! - times[i - 2]!).toBeGreaterThanOrEqual(995);
    // Another installation has its own tokens: it does not wait behind the first one's queue.
    expect(github.posts(25)[0]!.at).toBeLessThan(times[2]!);
    for (const n of [20, 21, 22, 23, 24, 25]) expect(states(n)).toEqual(['success']);
  });
});

describe('listUnreportedGitHubDeployments', () => {
  it('lists GitHub deployments still running or whose final state GitHub has not been seen to take, within the resume window', async () => {
    const old = new Date(Date.now() - 8 * 24 * 3600_000).toISOString();
    await store.set(keys.deployment('dep_1'), deployment(1, 'in_progress'));
    await store.set(keys.deployment('dep_2'), deployment(2, 'success'));
    await store.set(keys.deployment('dep_3'), deployment(3, 'success', { githubReported: { state: 'success', at: new Date().toISOString() } }));
    await store.set(keys.deployment('dep_4'), deployment(4, 'failure', { finishedAt: old, updatedAt: old }));
    const local = deployment(5, 'success');
    delete local.github;
    await store.set(keys.deployment('dep_5'), local);
    expect((await listUnreportedGitHubDeployments(store)).map((d) => d.id)).toEqual(['dep_1', 'dep_2']);
  });
});
