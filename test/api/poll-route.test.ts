/**
 * The long poll answered below Koa (app/api/poll-route.ts), on a real hub (SQLite file, config repo over git HTTP):
 * the same contract as every other agent route, and a server that suits a fleet.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetAgentCredentials } from '../../app/api/agent-auth.js';
import { AGENT_CREDENTIAL_GUESSES, GuessLimiter } from '../../app/api/guess-limiter.js';
import { createPollHandler } from '../../app/api/poll-route.js';
import { JobNotifier } from '../../app/jobs/job-notifier.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import { createHttpServer, LISTEN_BACKLOG } from '../../app/server.js';
import type { JobSpec } from '../../lib/protocol.js';
import { silentLogger } from '../../lib/logger.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';
import { until } from '../helpers/until.js';

const DEPLOY = { repository: 'demo/shop', ref: 'main', environment: 'staging' };
let t: TestHub;

beforeAll(async () => {
  t = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '50' });
});
afterAll(async () => t?.close());

describe('the long poll', () => {
  it('answers a held poll with its job at once', async () => {
    const agent = await t.enroll('held-1');
    const poll = t.call('GET', '/api/agent/v1/jobs/next?wait=30', { token: agent.credential });
    await new Promise((r) => setTimeout(r, 300));
    const created = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: DEPLOY });
    expect(created.status).toBe(201);
    const createdAt = Date.now();
    const woken = await poll;
    expect(Date.now() - createdAt).toBeLessThan(1000);
    expect(woken.status).toBe(200);
    expect(woken.json.job).toMatchObject({ deploymentId: created.json.deployment.id, sha: expect.stringMatching(/^[0-9a-f]{40}$/) });
    // Finish the deployment, so that later tests start from an idle hub.
    const jobId = woken.json.job.id as string;
    const claimId = 'cl_held0001';
    expect((await t.call('POST', `/api/agent/v1/jobs/${jobId}/claim`, { token: agent.credential, body: { claimId } })).status).toBe(200);
    const at = new Date().toISOString();
    const events = [{ seq: 1, at, type: 'state', state: 'succeeded' }];
    expect((await t.call('POST', `/api/agent/v1/jobs/${jobId}/events`, { token: agent.credential, body: { claimId, events } })).status).toBe(200);
  });

  it('answers 204 once the wait is over, with the JSON headers of every answer', async () => {
    const agent = await t.enroll('idle-1', { role: 'idle' });
    const started = Date.now();
    const res = await fetch(`${t.url}/api/agent/v1/jobs/next?wait=1`, { headers: { authorization: `Bearer ${agent.credential}`, 'x-request-id': 'poll-42' } });
    expect(res.status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(res.headers.get('x-request-id')).toBe('poll-42');
    expect(await res.text()).toBe('');
  });

  it('asks the store for an idle agent\'s job only when one may have been made since it last said none', async () => {
    const agent = await t.enroll('idle-2');
    const engine = t.hub.engine;
    const original = engine.nextJob.bind(engine);
    let reads = 0;
    engine.nextJob = (agentId) => {
      if (agentId === agent.agentId) reads++;
      return original(agentId);
    };
    try {
      const poll = () => t.call('GET', '/api/agent/v1/jobs/next?wait=0', { token: agent.credential });
      expect((await poll()).status).toBe(204);
      expect(reads).toBe(1);
      // Nothing was made since: the next polls are answered without reading the store.
      expect((await poll()).status).toBe(204);
      expect((await poll()).status).toBe(204);
      expect(reads).toBe(1);
      // A deployment makes a job (for this agent or any other): the next poll reads, and finds it.
      const created = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: DEPLOY });
      expect(created.status).toBe(201);
      const next = await poll();
      expect(reads).toBe(2);
      expect(next.status).toBe(200);
      expect(next.json.job.deploymentId).toBe(created.json.deployment.id);
      const claimId = 'cl_idle0002';
      expect((await t.call('POST', `/api/agent/v1/jobs/${next.json.job.id}/claim`, { token: agent.credential, body: { claimId } })).status).toBe(200);
      const events = [{ seq: 1, at: new Date().toISOString(), type: 'state', state: 'succeeded' }];
      expect((await t.call('POST', `/api/agent/v1/jobs/${next.json.job.id}/events`, { token: agent.credential, body: { claimId, events } })).status).toBe(200);
    } finally {
      engine.nextJob = original;
    }
  });

  it('records the version an agent says on its poll (an upgraded agent), and ignores what is not a version', async () => {
    const agent = await t.enroll('upgraded-1', { role: 'idle' });
    const versionOf = async () => ((await t.call('GET', '/api/v1/agents?limit=1000', { token: ADMIN_TOKEN })).json.agents as { name: string; version: string }[]).find((a) => a.name === 'upgraded-1')?.version;
    expect(await versionOf()).toBe('test');
    const poll = (version?: string) =>
      fetch(`${t.url}/api/agent/v1/jobs/next?wait=0`, { headers: { authorization: `Bearer ${agent.credential}`, ...(version === undefined ? {} : { 'x-bitenvoy-agent-version': version }) } });
    expect((await poll('0.2.0')).status).toBe(204);
    await until('the reported version recorded', async () => (await versionOf()) === '0.2.0', 5000);
    expect((await poll('$(reboot)')).status).toBe(204);
    expect((await poll()).status).toBe(204);
    await new Promise((r) => setTimeout(r, 200));
    expect(await versionOf()).toBe('0.2.0');
  });

  it('refuses a wrong or missing credential with 401 and the envelope', async () => {
    const forged = await t.call('GET', '/api/agent/v1/jobs/next?wait=0', { token: 'bta_forged' });
    expect(forged.status).toBe(401);
    expect(forged.json.error).toEqual({ code: 'BE_UNAUTHORIZED', message: 'unknown agent credential (the agent was removed or the hub lost its data); enroll it again with a new token' });
    const missing = await t.call('GET', '/api/agent/v1/jobs/next?wait=0');
    expect(missing.status).toBe(401);
    expect(missing.json.error.message).toMatch(/^missing `Authorization: Bearer <agent credential>`/);
  });

  it('refuses a bad wait, and methods other than GET and HEAD, with the envelope', async () => {
    const agent = await t.enroll('picky-1', { role: 'idle' });
    const twice = await t.call('GET', '/api/agent/v1/jobs/next?wait=1&wait=2', { token: agent.credential });
    expect(twice.status).toBe(400);
    expect(twice.json.error).toEqual({ code: 'BE_BAD_REQUEST', message: 'wait: expected a number of seconds ≥ 0, got ["1","2"]' });
    const negative = await t.call('GET', '/api/agent/v1/jobs/next?wait=-1', { token: agent.credential });
    expect(negative.json.error.message).toBe('wait: expected a number of seconds ≥ 0, got "-1"');

    const post = await fetch(`${t.url}/api/agent/v1/jobs/next`, { method: 'POST', headers: { authorization: `Bearer ${agent.credential}` } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('HEAD, GET');
    expect(((await post.json()) as { error: unknown }).error).toEqual({ code: 'BE_METHOD_NOT_ALLOWED', message: 'POST /api/agent/v1/jobs/next is not allowed; this route accepts HEAD, GET' });
    const head = await fetch(`${t.url}/api/agent/v1/jobs/next?wait=0`, { method: 'HEAD', headers: { authorization: `Bearer ${agent.credential}` } });
    expect(head.status).toBe(204);
  });

  it('counts wrong credentials together with the other agent routes', async () => {
    // From behind a proxy on loopback: X-Forwarded-For names the client, as on the Koa routes.
    const from = (address: string, route: 'poll' | 'lease', token: string) =>
      fetch(`${t.url}/api/agent/v1/jobs/${route === 'poll' ? 'next?wait=0' : 'x/lease'}`, {
        method: route === 'poll' ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': address, 'content-type': 'application/json' },
        ...(route === 'lease' ? { body: '{"claimId":"cl_12345678"}' } : {}),
      });
    // Spends an address's wrong guesses on one route, until that route refuses it (guesses come back one a second).
    const spend = async (address: string, route: 'poll' | 'lease') => {
      const statuses: number[] = [];
      for (let i = 0; !statuses.includes(429) && i < AGENT_CREDENTIAL_GUESSES.perAddress.burst + 20; i++) statuses.push((await from(address, route, `bta_guess${i}`)).status);
      expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(AGENT_CREDENTIAL_GUESSES.perAddress.burst);
      expect(statuses.at(-1)).toBe(429);
    };
    // One address spends its guesses on the lease route: the poll route refuses it too, with Retry-After.
    await spend('192.0.2.77', 'lease');
    const refused = await from('192.0.2.77', 'poll', 'bta_guess-poll');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('BE_RATE_LIMITED');
    // Another spends them on the poll route: the lease route refuses it.
    await spend('192.0.2.78', 'poll');
    expect((await from('192.0.2.78', 'lease', 'bta_guess-lease')).status).toBe(429);
  });

  it('listens with a backlog that fits a fleet reconnecting at once', () => {
    const port = (t.hub.server.address() as AddressInfo).port;
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    // `ss` shows a listening socket's backlog as its Send-Q; Linux caps what was asked at net.core.somaxconn.
    const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
    const backlog = Number(line.split(/\s+/)[2]);
    expect(backlog).toBe(Math.min(LISTEN_BACKLOG, somaxconn));
    expect(backlog).toBeGreaterThan(511);
  });

  it('ends held polls with 204 when the hub closes', async () => {
    const hub = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '50' });
    try {
      const agents = await Promise.all(['closing-1', 'closing-2', 'closing-3'].map((name) => hub.enroll(name, { role: 'idle' })));
      const polls = agents.map((a) => hub.call('GET', '/api/agent/v1/jobs/next?wait=50', { token: a.credential }));
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await hub.hub.close();
      expect((await Promise.all(polls)).map((p) => p.status)).toEqual([204, 204, 204]);
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await hub.close();
    }
  });
});

describe('the poll handler on its own', () => {
  let store: Store;
  let server: Server;
  let url: string;
  const notifier = new JobNotifier();
  const shutdown = new AbortController();
  let credential: string;

  beforeAll(async () => {
    store = await openStore({ dataDir: `${t.root}/handler-store` });
    const { enrollAgent } = await import('../../app/enroll/enroll-agent.js');
    const { createEnrollToken } = await import('../../app/enroll/create-enroll-token.js');
    const { token } = await createEnrollToken(store, { createdBy: 'test' });
    const settings = { pollWaitSeconds: 50, leaseSeconds: 60, heartbeatSeconds: 60 };
    ({ credential } = await enrollAgent(store, { token, name: 'alone', labels: {}, version: 'test' }, settings, Date.now()));
    const poll = createPollHandler({
      store,
      engine: { nextJob: async () => undefined, notifier },
      settings,
      shutdown: shutdown.signal,
      guesses: new GuessLimiter(AGENT_CREDENTIAL_GUESSES),
      log: silentLogger(),
    });
    // A Koa with no routes at all: whatever answers the poll is the handler, in front of Koa.
    server = createHttpServer({ koa: new Koa(), webhook: undefined, webhookPath: '/webhooks', poll });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await store?.close();
  });

  it('is answered in front of Koa, and woken by the shutdown signal alone', async () => {
    const poll = fetch(`${url}/api/agent/v1/jobs/next?wait=30`, { headers: { authorization: `Bearer ${credential}` } });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    // Nothing else wakes it: no engine stops here, no notification comes.
    shutdown.abort();
    const res = await poll;
    expect(res.status).toBe(204);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('believes a credential the store just knew without asking it again, until its process is told to forget it', async () => {
    const { enrollAgent } = await import('../../app/enroll/enroll-agent.js');
    const { createEnrollToken } = await import('../../app/enroll/create-enroll-token.js');
    const { token } = await createEnrollToken(store, { createdBy: 'test' });
    const settings = { pollWaitSeconds: 50, leaseSeconds: 60, heartbeatSeconds: 60 };
    const agent = await enrollAgent(store, { token, name: 'remembered', labels: {}, version: 'test' }, settings, Date.now());
    const poll = async () => (await fetch(`${url}/api/agent/v1/jobs/next?wait=0`, { headers: { authorization: `Bearer ${agent.credential}` } })).status;
    // The shutdown test above ran: every poll is answered 204 at once, which is all this test needs.
    expect(await poll()).toBe(204);
    // The credential is taken back behind the poll's back (nothing does this today; whatever comes to do it calls
    // forgetAgentCredentials): the poll still believes it from memory, without a store read...
    await store.db.run("UPDATE agents SET credential_hash = 'taken-back' WHERE key = ?", `agent:${agent.agentId}`);
    expect(await poll()).toBe(204);
    // ...until told, and then the store's answer counts at once.
    forgetAgentCredentials(store, agent.agentId);
    expect(await poll()).toBe(401);
    // A credential the store never knew is never remembered.
    expect((await fetch(`${url}/api/agent/v1/jobs/next?wait=0`, { headers: { authorization: 'Bearer bta_never' } })).status).toBe(401);
  });

  it('leaves every other path to Koa', async () => {
    const res = await fetch(`${url}/api/agent/v1/jobs/j_1/claim`, { method: 'POST' });
    expect(res.status).toBe(404);
  });
});

describe('the poll handler when a job is announced during its read', () => {
  it('reads again at once: the announcement woke nobody, the read began before the job was there', async () => {
    const store = await openStore({ dataDir: `${t.root}/race-store` });
    const notifier = new JobNotifier();
    const shutdown = new AbortController();
    const { enrollAgent } = await import('../../app/enroll/enroll-agent.js');
    const { createEnrollToken } = await import('../../app/enroll/create-enroll-token.js');
    const { token } = await createEnrollToken(store, { createdBy: 'test' });
    const settings = { pollWaitSeconds: 50, leaseSeconds: 60, heartbeatSeconds: 60 };
    const { agentId, credential } = await enrollAgent(store, { token, name: 'racer', labels: {}, version: 'test' }, settings, Date.now());
    let reads = 0;
    const job = { id: 'job_race' } as unknown as JobSpec;
    const nextJob = async (): Promise<JobSpec | undefined> => {
      reads++;
      if (reads > 1) return job;
      // The first read's snapshot is older than the job; the job is announced before the read returns.
      await notifier.announce([{ agentId, jobId: 'job_race' }]);
      return undefined;
    };
    const poll = createPollHandler({ store, engine: { nextJob, notifier }, settings, shutdown: shutdown.signal, guesses: new GuessLimiter(AGENT_CREDENTIAL_GUESSES), log: silentLogger() });
    const server = createHttpServer({ koa: new Koa(), webhook: undefined, webhookPath: '/webhooks', poll });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/agent/v1/jobs/next?wait=30`, { headers: { authorization: `Bearer ${credential}` } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { job: { id: string } }).job.id).toBe('job_race');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(reads).toBe(2);
    } finally {
      shutdown.abort();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await store.close();
    }
  });
});
