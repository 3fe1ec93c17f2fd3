/**
 * The GitHub Deployments the hub makes go through the durable outbox (`bitenvoy:create-deployment`): when GitHub
 * fails, the caller is told the deployment is queued (the admin API answers 202) and the rollout starts once GitHub
 * takes it; a create whose answer was lost is not made twice (the sender adopts the deployment GitHub already lists
 * for the rollout); a hub killed with a create owed leaves it to the next, which makes it once. Real SQLite store,
 * real rollout engine and status reporter, the admin API on a real HTTP server, GitHub a stand-in over real HTTP
 * that checks every request against GitHub's REST description.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adminRoutes } from '../../app/api/admin-routes.js';
import { listAudit } from '../../app/audit/audit-log.js';
import { CREATE_DEPLOYMENT_EFFECT, createDeploymentKind } from '../../app/github/create-deployment-effect.js';
import { deployThroughGitHub, type DeployThroughGitHubDeps } from '../../app/github/deploy-through-github.js';
import { GitHubOutbox, type GitHubOutboxOptions } from '../../app/github/github-outbox.js';
import { rolloutIntentKey } from '../../app/github/on-deployment-created.js';
import { startRolloutThroughGitHub } from '../../app/github/start-github-rollout.js';
import type { StatusOctokit } from '../../app/github/status-reporter.js';
import { keys, type AgentRecord, type DeploymentRecord } from '../../app/model.js';
import { createKoa } from '../../app/server.js';
import { openStore } from '../../app/store/open-store.js';
import { BUILT_IN_STRATEGIES, type LoadedConfig } from '../../config-schema/validate-config-dir.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { silentLogger } from '../../lib/logger.js';
import { createGitHubAppRig, HUB_URL } from '../helpers/github-app-rig.js';
import { killableOctokit, never, startDeploymentStatusesStandIn, STAND_IN_INSTALLATION, type DeploymentStatusesStandIn, type StatusFault } from './deployment-statuses-stand-in.js';
import { capturedLogger, type LogLine } from '../helpers/captured-logger.js';
import { until } from '../helpers/until.js';

const REPO = 'acme/shop';
const SHA = 'f'.repeat(40);
const TOKEN = 'bt_admin_test';
const config = (): LoadedConfig & { sha: string } => ({
  sha: 'c'.repeat(40),
  groups: { web: { selector: { matchLabels: { role: 'web' } } } },
  strategies: BUILT_IN_STRATEGIES,
  repositories: { [REPO]: { name: REPO, file: `repositories/${REPO}.yml`, instructions: 'bitenvoy.yml', environments: { staging: { branch: 'main', group: 'web' } } } },
});

let dir: string;
let github: DeploymentStatusesStandIn;
/** Everything a test started, stopped after it (a hub killed in the test is already stopped). */
let running: Array<() => Promise<void> | void>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-create-'));
  github = await startDeploymentStatusesStandIn();
  github.commits.set('main', SHA);
  running = [];
});

afterEach(async () => {
  for (const stop of running.reverse()) await stop();
  await github.close();
  await rm(dir, { recursive: true, force: true });
});


/**
 * One hub on the test's store file: the engine, the status reporter and the outbox of the GitHub App rig, talking to
 * the stand-in. `kill()` is the process dying: its requests never come back to it, and its store is closed.
 */
async function startHub(options: { outbox?: Partial<GitHubOutboxOptions>; unreachable?: boolean } = {}) {
  const store = await openStore({ dataDir: dir });
  let dead = false;
  const quiet = () => undefined;
  const octokit = new Octokit({ baseUrl: github.url, auth: 'ghs_test', log: { debug: quiet, info: quiet, warn: quiet, error: quiet } });
  const octokitFor = async (): Promise<StatusOctokit> => {
    if (options.unreachable) return never();
    return killableOctokit(octokit, () => dead) as StatusOctokit;
  };
  const rig = createGitHubAppRig(store, config, { octokitFor, outbox: { retry: { baseMs: 50, maxMs: 200 }, requestTimeoutMs: 3000, ...options.outbox } });
  const agent: AgentRecord = { id: 'ag_1', name: 'web-1', labels: { role: 'web' }, version: 't', credentialHash: 'x', enrolledAt: new Date().toISOString(), lastSeenAt: new Date().toISOString() };
  await store.set(keys.agent(agent.id), agent);
  const deps: DeployThroughGitHubDeps = { store, config: () => config(), appOctokit: () => octokitFor(), octokitFor, outbox: rig.outbox, publicUrl: () => HUB_URL };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    rig.outbox.close();
    rig.reporter.close();
    rig.engine.stop();
    await store.close();
  };
  running.push(stop);
  return {
    store,
    ...rig,
    octokitFor,
    deps,
    async idle() {
      await rig.outbox.idle();
      await rig.reporter.idle();
    },
    kill: async () => {
      dead = true;
      await stop();
    },
  };
}

/** The admin API of a hub on a real HTTP server. */
async function startAdminApi(hub: Awaited<ReturnType<typeof startHub>>): Promise<string> {
  const koa = createKoa(silentLogger());
  const router = adminRoutes({ store: hub.store, engine: hub.engine, adminToken: TOKEN, publicUrl: () => HUB_URL, deployThroughGitHub: (req, actor) => deployThroughGitHub(hub.deps, req, actor) });
  koa.use(router.routes()).use(router.allowedMethods());
  const server: Server = createServer(koa.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  running.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
}


const creates = () => github.requests.filter((r) => r.path === `/repos/${REPO}/deployments`).map((r) => `${r.method} ${r.answer}`);
const rolloutOf = (d: { payload: unknown }) => (d.payload as { bitenvoy: { rollout: string } }).bitenvoy.rollout;

describe('GitHub Deployments created through the outbox', () => {
  it('answers 202 "queued" while GitHub answers 502 then 403 Retry-After: 1, then makes one GitHub Deployment and its rollout runs', async () => {
    const hub = await startHub();
    const api = await startAdminApi(hub);
    github.createFaults.push({ status: 502 }, { status: 403, headers: { 'retry-after': '1' } });

    const res = await fetch(`${api}/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ repository: REPO, ref: 'main', environment: 'staging' }),
    });
    const answer = (await res.json()) as { queued: boolean; deploymentId: string; message: string; url: string };
    expect(res.status).toBe(202);
    expect(answer).toMatchObject({ queued: true, deploymentId: expect.stringMatching(/^dep_[0-9a-f]{12}$/), url: `${HUB_URL}/deployments/${answer.deploymentId}` });
    expect(answer.message).toMatch(/^GitHub did not take the deployment of acme\/shop@fffffff to `staging` at once \(GitHub answered 502 .*\); it is queued: the hub creates it as soon as GitHub answers, and its rollout dep_[0-9a-f]{12} starts then$/);

    // GitHub takes it once the second it asked for is over; the rollout starts from GitHub's answer.
    const dep = await until('the rollout exists', () => hub.store.get<DeploymentRecord>(keys.deployment(answer.deploymentId)));
    await hub.idle();
    expect(github.deployments).toHaveLength(1);
    expect(rolloutOf(github.deployments[0]!)).toBe(answer.deploymentId);
    expect(dep).toMatchObject({ sha: SHA, environment: 'staging', github: { installationId: STAND_IN_INSTALLATION, deploymentId: github.deployments[0]!.id } });
    expect((await hub.engine.nextJob('ag_1'))?.deploymentId).toBe(answer.deploymentId);
    expect(github.statuses.get(github.deployments[0]!.id)?.[0]?.state).toBe('queued');
    // After the 502 GitHub may have made it: its deployments were listed first. After the 403 it surely had not.
    expect(creates()).toEqual(['POST 502', 'GET 200', 'POST 403', 'POST 201']);
    const [, , refused, made] = github.requests.filter((r) => r.path === `/repos/${REPO}/deployments`);
    expect(made!.at - refused!.at).toBeGreaterThanOrEqual(990);
    expect((await listAudit(hub.store)).map((e) => [e.action, e.outcome, e.deploymentId])).toEqual([['deploy', 'queued', answer.deploymentId]]);
    expect(await hub.store.db.all('SELECT id FROM github_effects')).toEqual([]);
    expect(github.problems).toEqual([]);
  });

  it('answers with the started rollout when GitHub answers at once, as before', async () => {
    const hub = await startHub();
    const answer = await deployThroughGitHub(hub.deps, { repository: REPO, ref: 'main', environment: 'staging' }, 'api');
    expect(answer).not.toHaveProperty('queued');
    expect(answer).toMatchObject({ sha: SHA, github: { deploymentId: github.deployments[0]!.id } });
    expect(creates()).toEqual(['POST 201']);
  });

  it.each<[string, StatusFault, string]>([
    ['the connection is cut', { reset: true, record: true }, 'reset'],
    ['no answer comes within the request timeout', { hang: true, record: true }, 'hang'],
  ])('makes exactly one GitHub Deployment when %s after GitHub took the create: the next attempt adopts it', async (_what, fault, answered) => {
    const hub = await startHub();
    github.createFaults.push(fault);

    const started = await startRolloutThroughGitHub(hub.deps, { installationId: STAND_IN_INSTALLATION, repository: { fullName: REPO, owner: 'acme', name: 'shop', cloneUrl: 'https://github.com/acme/shop.git' }, sha: SHA, environment: 'staging', env: {}, trigger: 'api', description: 'BitEnvoy: test' });
    expect(started).toMatchObject({ state: 'queued', reason: expect.stringMatching(/retried in/) });
    const dep = await until('the rollout exists', () => hub.store.get<DeploymentRecord>(keys.deployment(started.rolloutId)));
    await hub.idle();

    expect(github.deployments).toHaveLength(1);
    expect(rolloutOf(github.deployments[0]!)).toBe(started.rolloutId);
    expect(dep.github?.deploymentId).toBe(github.deployments[0]!.id);
    expect(creates()).toEqual([`POST ${answered}`, 'GET 200']);
    expect((await hub.engine.nextJob('ag_1'))?.deploymentId).toBe(started.rolloutId);
    expect(github.problems).toEqual([]);
  });

  it.each([
    ['its create was out and GitHub took it', false],
    ['it never reached GitHub', true],
  ])('leaves a create to the next hub when killed after %s: made once, and the rollout runs', async (_what, unreachable) => {
    const dying = await startHub({ unreachable });
    if (!unreachable) github.createFaults.push({ hang: true, record: true });
    const waiting = startRolloutThroughGitHub(dying.deps, {
      installationId: STAND_IN_INSTALLATION,
      repository: { fullName: REPO, owner: 'acme', name: 'shop', cloneUrl: 'https://github.com/acme/shop.git' },
      sha: SHA,
      environment: 'staging',
      env: {},
      trigger: 'api',
      description: 'BitEnvoy: test',
      intent: { rollbackOf: 'dep_0000000000aa' },
    });
    await until('the create row is written', async () => ((await dying.store.db.all('SELECT id FROM github_effects')).length ? true : undefined));
    if (!unreachable) await until('GitHub took the create', () => (github.deployments.length ? true : undefined));
    // The intent is in the row: written in the same transaction as the decision, kept for the webhook by the sender.
    const [row] = await dying.store.db.all<{ route: string; params: string }>('SELECT route, params FROM github_effects');
    expect(row!.route).toBe(CREATE_DEPLOYMENT_EFFECT);
    expect(JSON.parse(row!.params)).toMatchObject({ intent: { rollbackOf: 'dep_0000000000aa' }, ...(unreachable ? {} : { attempted: true }) });
    await dying.kill();
    const started = await waiting;
    expect(started).toMatchObject({ state: 'queued', reason: 'the hub is stopping; it is sent when the hub starts again' });

    const next = await startHub();
    await next.outbox.start();
    const dep = await until('the rollout exists', () => next.store.get<DeploymentRecord>(keys.deployment(started.rolloutId)));
    await next.idle();
    expect(github.deployments).toHaveLength(1);
    expect(dep).toMatchObject({ github: { deploymentId: github.deployments[0]!.id }, rollbackOf: 'dep_0000000000aa' });
    expect(creates()).toEqual(unreachable ? ['POST 201'] : ['POST hang', 'GET 200']);
    expect((await next.engine.nextJob('ag_1'))?.deploymentId).toBe(started.rolloutId);
    expect(await next.store.get(rolloutIntentKey(started.rolloutId))).toEqual({ rollbackOf: 'dep_0000000000aa' });
    expect(github.problems).toEqual([]);
  });

  it('writes neither the decision nor its intent when the transaction with the caller\'s own statements fails', async () => {
    const hub = await startHub();
    const params = { installationId: STAND_IN_INSTALLATION, owner: 'acme', repo: 'shop', repository: { fullName: REPO, cloneUrl: 'https://github.com/acme/shop.git' }, rolloutId: 'dep_0123456789ab', intent: { refuseWith: 'checks never reported' }, body: { ref: SHA, environment: 'staging', payload: { bitenvoy: { rollout: 'dep_0123456789ab', trigger: 'auto' } } } };
    await expect(hub.outbox.enqueueAndWait({ installationId: STAND_IN_INSTALLATION, route: CREATE_DEPLOYMENT_EFFECT, params }, { alongside: [{ sql: 'INSERT INTO no_such_table VALUES (?)', params: [1] }] })).rejects.toThrow(/no_such_table/);
    expect(await hub.store.db.all('SELECT id FROM github_effects')).toEqual([]);
    expect(await hub.store.get(rolloutIntentKey('dep_0123456789ab'))).toBeUndefined();
    await hub.idle();
    expect(github.requests).toEqual([]);
  });

  it('retries starting the rollout of a deployment GitHub created when the start fails, without creating it again', async () => {
    const hub = await startHub();
    let failures = 1;
    const flaky = createDeploymentKind({
      store: hub.store,
      startDeployment: async (payload, options) => {
        if (failures-- > 0) throw new BitEnvoyError('BE_CONFIG_UNAVAILABLE', 'the config is being reloaded');
        return hub.startDeployment(payload, options);
      },
    });
    const lines: Array<LogLine & { deploymentId?: string }> = [];
    const outbox = new GitHubOutbox({ store: hub.store, octokitFor: hub.octokitFor, log: capturedLogger(lines), retry: { baseMs: 50, maxMs: 200 }, kinds: { [CREATE_DEPLOYMENT_EFFECT]: flaky } });
    running.push(() => outbox.close());
    const started = await startRolloutThroughGitHub({ outbox }, { installationId: STAND_IN_INSTALLATION, repository: { fullName: REPO, owner: 'acme', name: 'shop', cloneUrl: 'https://github.com/acme/shop.git' }, sha: SHA, environment: 'staging', env: {}, trigger: 'api', description: 'BitEnvoy: test' });
    expect(started).toMatchObject({ state: 'queued', reason: expect.stringMatching(/^GitHub created deployment 901, but starting its rollout dep_[0-9a-f]{12} failed: the config is being reloaded; retried in/) });
    await until('the rollout exists', () => hub.store.get<DeploymentRecord>(keys.deployment(started.rolloutId)));
    await outbox.idle();
    expect(creates()).toEqual(['POST 201']);
    expect(await hub.store.db.all('SELECT id FROM github_effects')).toEqual([]);
    // The retry's log line names the rollout, so it can be followed across replicas' logs.
    const retry = lines.find((l) => l.msg.startsWith('could not send'));
    expect(retry?.deploymentId).toBe(started.rolloutId);
  });

  it('drops a create GitHub refuses for good and says why to the caller', async () => {
    const hub = await startHub();
    github.createFaults.push({ status: 422 });
    const err = await deployThroughGitHub(hub.deps, { repository: REPO, ref: 'main', environment: 'staging' }, 'api').then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).toBe('BE_DEPLOY_REJECTED');
    expect(err?.message).toMatch(/^GitHub did not create the deployment of acme\/shop@fffffff to `staging`: GitHub answered 422 .*if acme\/shop and the commit still exist, report this line as a BitEnvoy bug$/);
    expect(await hub.store.db.all('SELECT id FROM github_effects')).toEqual([]);
    expect(github.deployments).toEqual([]);
  });
});
