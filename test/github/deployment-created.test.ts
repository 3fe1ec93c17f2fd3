/**
 * `deployment.created` → one rollout, reported back as Deployment statuses: driven through `probot.receive` with
 * GitHub's own example payload, GitHub answered by nock, every request checked against GitHub's REST contract.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { Probot, ProbotOctokit } from 'probot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAppFn } from '../../app/github/app.js';
import { CLAIM_STALE_MS, onDeploymentCreated } from '../../app/github/on-deployment-created.js';
import { mintRepositoryToken } from '../../app/github/repository-token.js';
import { GitHubStatusReporter } from '../../app/github/status-reporter.js';
import { keys, type AgentRecord } from '../../app/model.js';
import { takeLock } from '../../app/rollout/environment-locks.js';
import { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import { BUILT_IN_STRATEGIES, type LoadedConfig } from '../../config-schema/validate-config-dir.js';
import { silentLogger } from '../../lib/logger.js';
import { loadGitHubContract } from '../../testbed/github-contract.js';

const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{ name: string; examples: Array<Record<string, unknown>> }>;
const example = examples.find((e) => e.name === 'deployment')!.examples.find((e) => e.action === 'created')!;
// Deliveries to a GitHub App carry the installation; the public example was recorded without one.
const payload = { ...structuredClone(example), installation: { id: 1, node_id: 'MDIz' } } as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- GitHub's example JSON
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

const config: LoadedConfig & { sha: string } = {
  sha: 'c'.repeat(40),
  groups: { web: { selector: { matchLabels: { role: 'web' } } } },
  strategies: BUILT_IN_STRATEGIES,
  repositories: {
    'Codertocat/Hello-World': {
      name: 'Codertocat/Hello-World',
      file: 'repositories/Codertocat/Hello-World.yml',
      git: 'https://git.test/Codertocat/Hello-World.git',
      instructions: 'bitenvoy.yml',
      environments: { production: { branch: 'master', group: 'web', url: 'https://hello.example' } },
    },
  },
};

let dir: string;
let store: Store;
let engine: RolloutEngine;
let reporter: GitHubStatusReporter;
let probot: Probot;
let statuses: Array<Record<string, unknown>>;
let problems: string[];
let tokenRequests: Array<Record<string, unknown>>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-gh-'));
  store = await openStore({ dataDir: dir });
  probot = new Probot({ appId: 123, privateKey, log: silentLogger(), Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });
  reporter = new GitHubStatusReporter({ octokitFor: (id) => probot.auth(id), log: silentLogger(), publicUrl: 'https://hub.example', minIntervalMs: 0 });
  engine = new RolloutEngine({
    store,
    log: silentLogger(),
    settings: { leaseSeconds: 60, heartbeatSeconds: 60, pollWaitSeconds: 50, publicUrl: 'https://hub.example' },
    config: () => config,
    onChange: (d) => reporter.changed(d),
    gitCredentials: async (d) => (d.github ? mintRepositoryToken(await probot.auth(), d.github) : undefined),
  });
  await probot.load(createAppFn({ engine, store, reporter }));
  const agent: AgentRecord = { id: 'ag_1', name: 'web-1', labels: { role: 'web' }, version: 't', credentialHash: 'x', enrolledAt: new Date().toISOString(), lastSeenAt: new Date().toISOString() };
  await store.set(keys.agent(agent.id), agent);

  statuses = [];
  problems = [];
  tokenRequests = [];
  const github = await loadGitHubContract('api.github.com');
  nock('https://api.github.com')
    .persist()
    .post('/app/installations/1/access_tokens', (body: Record<string, unknown> | string) => {
      const parsed = typeof body === 'object' ? body : undefined;
      problems.push(...github.problems('POST', '/app/installations/1/access_tokens', parsed));
      tokenRequests.push(parsed ?? {});
      return true;
    })
    .reply(201, () => ({ token: `ghs_token_${tokenRequests.length}`, expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: { contents: 'read' } }))
    .post(`/repos/Codertocat/Hello-World/deployments/${payload.deployment.id}/statuses`, (body: Record<string, unknown>) => {
      problems.push(...github.problems('POST', `/repos/Codertocat/Hello-World/deployments/${payload.deployment.id}/statuses`, body));
      statuses.push(body);
      return true;
    })
    .reply(201, {});
});

afterEach(async () => {
  // Statuses still on their way belong to this test, not the next one.
  await reporter.idle();
  engine.stop();
  nock.cleanAll();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function receive(p: Record<string, unknown>, id = 'delivery-1'): Promise<void> {
  await probot.receive({ id, name: 'deployment', payload: p } as never);
  await reporter.idle();
}

describe('deployment.created', () => {
  it('lets the agent fetch with a short-lived token for that one repository, handed out only with the claim', async () => {
    await receive(payload);
    const offered = (await engine.nextJob('ag_1'))!;
    expect(offered.git).toEqual({ url: payload.repository.clone_url });
    const { job } = await engine.claimJob('ag_1', offered.id, 'cl_1');
    expect(job.git.url).toBe(payload.repository.clone_url);
    expect(job.git.auth?.username).toBe('x-access-token');
    expect(job.git.auth?.password).toMatch(/^ghs_token_\d+$/);
    expect(tokenRequests).toContainEqual({ repositories: ['Hello-World'], permissions: { contents: 'read' } });
    expect(problems).toEqual([]);
    // The token is never stored.
    expect(JSON.stringify(await store.list(''))).not.toContain(job.git.auth!.password);
  });

  it('becomes one rollout whose progress GitHub sees as queued → in_progress → success', async () => {
    await receive(payload);
    await receive(payload, 'delivery-1-redelivered');
    const deployments = await engine.listDeployments();
    expect(deployments).toHaveLength(1);
    expect(deployments[0]!.sha).toBe(payload.deployment.sha);
    expect(deployments[0]!.github?.deploymentId).toBe(payload.deployment.id);

    const job = (await engine.nextJob('ag_1'))!;
    await engine.claimJob('ag_1', job.id, 'cl_1');
    await reporter.idle();
    await engine.appendEvents('ag_1', job.id, 'cl_1', [{ seq: 1, at: new Date().toISOString(), type: 'state', state: 'succeeded' }]);
    await reporter.idle();

    expect(problems).toEqual([]);
    expect(statuses.map((s) => s.state)).toEqual(['queued', 'in_progress', 'success']);
    expect(statuses.at(-1)).toEqual({
      state: 'success',
      description: '1/1 servers succeeded',
      log_url: `https://hub.example/deployments/${deployments[0]!.id}`,
      environment_url: 'https://hello.example',
    });
  });

  it('takes over the claim of an attempt that died before planning, once it is stale; a fresh claim is left alone', async () => {
    const claimKey = `github-deployment:Codertocat/Hello-World:${payload.deployment.id}`;
    // A hub (or the hub's own call) holds the claim right now: this delivery leaves it to that attempt.
    await store.set(claimKey, `pending:${new Date().toISOString()}`);
    expect(await onDeploymentCreated(payload as never, { engine, store, reporter, log: silentLogger() })).toBe('in-progress');
    expect(await engine.listDeployments()).toHaveLength(0);
    // The attempt died: its claim is older than CLAIM_STALE_MS, and the redelivery starts the rollout.
    await store.set(claimKey, `pending:${new Date(Date.now() - CLAIM_STALE_MS - 1000).toISOString()}`);
    expect(await onDeploymentCreated(payload as never, { engine, store, reporter, log: silentLogger() })).toBe('started');
    const [dep] = await engine.listDeployments();
    expect(dep?.github?.deploymentId).toBe(payload.deployment.id);
    expect(await store.get(claimKey)).toBe(dep!.id);
  });

  it('does not plan a second rollout when the attempt that died had already planned it', async () => {
    const rolloutId = 'dep_0123456789ab';
    const ours = { ...structuredClone(payload), deployment: { ...payload.deployment, payload: { bitenvoy: { rollout: rolloutId, trigger: 'api' } } } };
    expect(await onDeploymentCreated(ours as never, { engine, store, reporter, log: silentLogger() })).toBe('started');
    // Killed after planning, before recording the rollout in the claim: the claim is a stale pending one.
    const claimKey = `github-deployment:Codertocat/Hello-World:${payload.deployment.id}`;
    await store.set(claimKey, `pending:${new Date(Date.now() - CLAIM_STALE_MS - 1000).toISOString()}`);
    expect(await onDeploymentCreated(ours as never, { engine, store, reporter, log: silentLogger() })).toBe('duplicate');
    expect((await engine.listDeployments()).map((d) => d.id)).toEqual([rolloutId]);
    expect(await store.get(claimKey)).toBe(rolloutId);
  });

  it('answers a deployment to an unconfigured environment with an error status that says why', async () => {
    await receive({ ...payload, deployment: { ...payload.deployment, id: payload.deployment.id, environment: 'moon' } });
    expect(problems).toEqual([]);
    expect(statuses).toHaveLength(1);
    expect(statuses[0]).toMatchObject({ state: 'error', description: 'Codertocat/Hello-World has no environment `moon`; its environments: production' });
    expect(await engine.listDeployments()).toHaveLength(1);
  });

  it('refuses a deployment made by another tool while the environment is locked, with an error status naming the lock', async () => {
    await takeLock(store, { repository: 'Codertocat/Hello-World', environment: 'production', by: 'octocat', reason: 'db migration', at: '2026-12-05T10:00:00.000Z' });
    await receive(payload);
    expect(problems).toEqual([]);
    expect(statuses).toHaveLength(1);
    expect(statuses[0]!.state).toBe('error');
    expect(statuses[0]!.description).toMatch(/^cannot deploy `[0-9a-f]{7}` to `production`: `production` is locked by @octocat since 2026-12-05 10:00 UTC: db migration/);
    // Nothing reached the agents.
    expect(await engine.nextJob('ag_1')).toBeUndefined();
  });

  it('ignores deployments of repositories BitEnvoy does not deploy', async () => {
    await receive({ ...payload, repository: { ...payload.repository, full_name: 'Codertocat/Other', name: 'Other' } });
    expect(statuses).toEqual([]);
    expect(await engine.listDeployments()).toEqual([]);
  });
});
