/**
 * GitHub Deployment statuses from hub replicas on one PostgreSQL store: each replica reports what its own engine
 * changed and resumes what is owed when it starts, yet GitHub gets each final state once and nothing after it — one
 * sender per deployment at a time (status-claim.ts), and the store's final state wins over a replica's stale progress.
 * Two reporters on two connections to a real PostgreSQL database, real HTTP to a GitHub stand-in checked against
 * GitHub's REST description.
 */
import { Octokit } from '@octokit/rest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitHubStatusReporter, type StatusOctokit, type StatusReporterOptions } from '../../app/github/status-reporter.js';
import { listUnreportedGitHubDeployments } from '../../app/github/unreported-deployments.js';
import { keys, type DeploymentRecord } from '../../app/model.js';
import type { Store } from '../../app/store/store.js';
import { capturedLogger } from '../helpers/captured-logger.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';
import { STATUS_CLAIM_MS } from '../../app/github/status-claim.js';
import { killableOctokit, startDeploymentStatusesStandIn, type DeploymentStatusesStandIn } from './deployment-statuses-stand-in.js';

const postgres = STORE_BACKENDS.find((b) => b.name === 'postgres')!;

describe.runIf(!postgres.unavailable)('GitHub statuses from hub replicas on PostgreSQL', () => {
  const stores = useStoreBackend(postgres);
  let github: DeploymentStatusesStandIn;
  const reporters: GitHubStatusReporter[] = [];

  beforeEach(async () => {
    github = await startDeploymentStatusesStandIn();
  });
  afterEach(async () => {
    for (const r of reporters.splice(0)) r.close();
    await github.close();
  });

  /** A replica's reporter on its own connection to the store; once `dead()`, nothing it sent comes back to it. */
  const replica = (store: Store, options: Partial<StatusReporterOptions> = {}, dead = () => false) => {
    const quiet = () => undefined;
    const octokit = new Octokit({ baseUrl: github.url, auth: 'ghs_test', log: { debug: quiet, info: quiet, warn: quiet, error: quiet } });
    const reporter = new GitHubStatusReporter({
      octokitFor: async () => killableOctokit(octokit, dead) as StatusOctokit,
      log: capturedLogger([]),
      publicUrl: 'https://hub.example',
      store,
      openDeployments: () => listUnreportedGitHubDeployments(store),
      retry: { baseMs: 20, maxMs: 200 },
      ...options,
    });
    reporters.push(reporter);
    return reporter;
  };

  const deployment = (n: number, state: DeploymentRecord['state'], description: string): DeploymentRecord => {
    const at = new Date().toISOString();
    return {
      id: `dep_${n}`, repository: 'acme/shop', environment: 'staging', ref: 'main', sha: 'a'.repeat(40), state, description,
      strategy: 'rolling', group: 'web', configSha: 'c'.repeat(40), batches: [], currentBatch: 0, skipped: [],
      createdBy: 'test', createdAt: at, updatedAt: at, ...(state === 'in_progress' ? {} : { finishedAt: at }),
      github: { installationId: 1, owner: 'acme', repo: 'shop', deploymentId: n, cloneUrl: 'https://github.com/acme/shop.git' },
    };
  };
  const states = (n: number) => (github.statuses.get(n) ?? []).map((s) => `${s.state} ${s.description}`);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('sends no progress status after the final one another replica sent', async () => {
    const [a, b] = [replica(stores.store, { minIntervalMs: 200 }), replica(await stores.open(), { minIntervalMs: 200 })];
    const running = deployment(1, 'in_progress', '0/2 servers · batch 1/2');
    await stores.store.set(keys.deployment('dep_1'), running);
    b.changed(running);
    await b.idle();
    // B's engine moves it on: that progress waits for B's interval. Meanwhile A's engine ends the rollout.
    const paused = { ...running, description: 'paused after batch 1/2' };
    await stores.store.set(keys.deployment('dep_1'), paused);
    b.changed(paused);
    const done = deployment(1, 'success', '2/2 servers succeeded');
    await stores.store.set(keys.deployment('dep_1'), done);
    a.changed(done);
    await a.idle();
    await sleep(400);
    await b.idle();
    expect(states(1)).toEqual(['in_progress 0/2 servers · batch 1/2', 'success 2/2 servers succeeded']);
    expect(github.problems).toEqual([]);
  });

  it('sends each final state once when one replica ends rollouts while another starts and resumes them', async () => {
    const ids = [11, 12, 13, 14, 15, 16, 17, 18];
    const a = replica(stores.store);
    for (const n of ids) await stores.store.set(keys.deployment(`dep_${n}`), deployment(n, 'success', '2/2 servers succeeded'));
    // B, starting, finds them owed (its first look at GitHub finds nothing); A hears of the ends as its engine makes them.
    const b = replica(await stores.open());
    await b.start();
    for (const n of ids) a.changed(deployment(n, 'success', '2/2 servers succeeded'));
    await Promise.all([a.idle(), b.idle()]);
    for (const n of ids) expect(states(n), `deployment ${n}`).toEqual(['success 2/2 servers succeeded']);
    expect(await listUnreportedGitHubDeployments(stores.store)).toEqual([]);
    expect(github.problems).toEqual([]);
  });

  it('sends the final state within seconds when the replica holding the claim was killed mid-request', async () => {
    const aStore = await stores.open();
    let dead = false;
    const a = replica(aStore, { requestTimeoutMs: 60_000 }, () => dead);
    // A's post never gets an answer (and GitHub did not take it): A dies holding the claim.
    github.faults.set(21, [{ hang: true }]);
    const done = deployment(21, 'success', '2/2 servers succeeded');
    await stores.store.set(keys.deployment('dep_21'), done);
    a.changed(done);
    const end = Date.now() + 10_000;
    while (github.posts(21).length === 0 && Date.now() < end) await sleep(10);
    dead = true;
    a.close();
    await aStore.close();
    const killedAt = Date.now();

    const b = replica(stores.store);
    await b.start();
    while (!states(21).length && Date.now() - killedAt < 20_000) await sleep(50);
    expect(states(21)).toEqual(['success 2/2 servers succeeded']);
    expect(Date.now() - killedAt).toBeLessThan(STATUS_CLAIM_MS + 3000);
    // The claim was left behind: B read GitHub before posting.
    expect(github.requests.filter((r) => r.deploymentId === 21).map((r) => r.method)).toEqual(['POST', 'GET', 'POST']);
    await b.idle();
    expect(await listUnreportedGitHubDeployments(stores.store)).toEqual([]);
  });
});
