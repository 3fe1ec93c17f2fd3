/**
 * The hub as a process: health, enrollment tokens over the admin API, heartbeats, starting with a broken config
 * repo or a port in use, and closing while agents hold long polls.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub } from '../../app/hub.js';
import { readHubSettings } from '../../app/hub-settings.js';
import { keys, type AgentRecord } from '../../app/model.js';
import { openStore } from '../../app/store/open-store.js';
import { silentLogger } from '../../lib/logger.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

describe('a running hub', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '50' });
  });
  afterAll(async () => t?.close());

  it('reports its health, mode and the config in force', async () => {
    const res = await t.call('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ ok: true, mode: 'local', configRepos: [{ sha: expect.stringMatching(/^[0-9a-f]{40}$/) }] });
  });

  it('mints enrollment tokens over the admin API that enroll once', async () => {
    const noBody = await t.call('POST', '/api/v1/enrollment-tokens', { token: ADMIN_TOKEN });
    expect(noBody.status).toBe(201);
    expect(noBody.json.token).toMatch(/^bte_/);
    const short = await t.call('POST', '/api/v1/enrollment-tokens', { token: ADMIN_TOKEN, body: { ttlSeconds: 120 } });
    expect(Date.parse(short.json.expiresAt) - Date.now()).toBeLessThanOrEqual(120_000);
    const enrolled = await t.call('POST', '/api/agent/v1/enroll', { body: { token: short.json.token, name: 'from-api', labels: {}, version: '1' } });
    expect(enrolled.status).toBe(201);

    const bad = await t.call('POST', '/api/v1/enrollment-tokens', { token: ADMIN_TOKEN, body: { ttlSeconds: 5 } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/^ttlSeconds: /);
    expect((await t.call('POST', '/api/v1/enrollment-tokens', { body: {} })).status).toBe(401);
  });

  it('records a heartbeat on authenticated requests, written in batches, at most one write per few seconds', async () => {
    const agent = await t.enroll('beating');
    const store = await openStore({ dataDir: t.dataDir });
    try {
      const old = new Date(Date.now() - 60_000).toISOString();
      await store.update<AgentRecord>(keys.agent(agent.agentId), (a) => a && { ...a, lastSeenAt: old });
      const before = Date.now();
      await t.call('GET', '/api/agent/v1/jobs/next?wait=0', { token: agent.credential });
      // Heartbeats are gathered and written together every 2 s (agent-auth.ts).
      await expect.poll(async () => (await store.get<AgentRecord>(keys.agent(agent.agentId)))!.lastSeenAt, { timeout: 5000 }).not.toBe(old);
      const seen = (await store.get<AgentRecord>(keys.agent(agent.agentId)))!.lastSeenAt;
      expect(Date.parse(seen)).toBeGreaterThanOrEqual(before - 1);
      expect(Date.parse(seen)).toBeLessThanOrEqual(Date.now());
      // The indexed column moved with the record (the lost-agent queries read it).
      expect((await store.db.get<{ at: string }>('SELECT last_seen_at AS at FROM agents WHERE key = ?', keys.agent(agent.agentId)))?.at).toBe(seen);
      await t.call('GET', '/api/agent/v1/jobs/next?wait=0', { token: agent.credential });
      await new Promise((r) => setTimeout(r, 2500));
      expect((await store.get<AgentRecord>(keys.agent(agent.agentId)))!.lastSeenAt).toBe(seen);
    } finally {
      await store.close();
    }
    const listed = await t.call('GET', '/api/v1/agents', { token: ADMIN_TOKEN });
    expect(listed.json.agents.find((a: { name: string }) => a.name === 'beating')).toMatchObject({ online: true });
  });

  it('rejects a wait that is not a number of seconds', async () => {
    const agent = await t.enroll('waiter');
    const res = await t.call('GET', '/api/agent/v1/jobs/next?wait=soon', { token: agent.credential });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('wait: expected a number of seconds ≥ 0, got "soon"');
  });

  it('stops waiting for a job as soon as the agent hangs up', async () => {
    const agent = await t.enroll('hanging-up');
    const notifier = t.hub.engine.notifier;
    const original = notifier.waitForJob.bind(notifier);
    const ended: number[] = [];
    notifier.waitForJob = (agentId, ms, stop) =>
      original(agentId, ms, stop).then((outcome) => {
        ended.push(Date.now());
        return outcome;
      });
    try {
      const hangUp = new AbortController();
      const poll = fetch(`${t.url}/api/agent/v1/jobs/next?wait=30`, { headers: { authorization: `Bearer ${agent.credential}` }, signal: hangUp.signal });
      await new Promise((r) => setTimeout(r, 200));
      expect(ended).toEqual([]);
      const abortedAt = Date.now();
      hangUp.abort();
      await expect(poll).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 300));
      expect(ended).toHaveLength(1);
      expect(ended[0]! - abortedAt).toBeLessThan(250);
    } finally {
      notifier.waitForJob = original;
    }
  });

  it('is ready while the store answers with the schema this release knows', async () => {
    const ready = await t.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({ ok: true });
    // Another replica of a newer release migrated the shared store: this one must not serve it.
    const other = await openStore({ dataDir: t.dataDir });
    try {
      const { v } = (await other.db.get<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations'))!;
      await other.db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', Number(v) + 1, 'from a newer release', new Date().toISOString());
      const behind = await t.call('GET', '/readyz');
      expect(behind.status).toBe(503);
      expect(behind.json.problem).toBe(`the store's schema is version ${Number(v) + 1}, this release runs version ${Number(v)}: run the same release on every replica`);
      await other.db.run('DELETE FROM schema_migrations WHERE version = ?', Number(v) + 1);
    } finally {
      await other.close();
    }
    expect((await t.call('GET', '/readyz')).status).toBe(200);
  });

  it('ends held long polls with 204 when it closes', async () => {
    const agent = await t.enroll('holding');
    const poll = t.call('GET', '/api/agent/v1/jobs/next?wait=50', { token: agent.credential });
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await t.hub.close();
    const handedBack = await poll;
    expect(handedBack.status).toBe(204);
    // Well before the 2 s cut-off for busy sockets: the answered polls' sockets were closed as they went idle.
    expect(Date.now() - started).toBeLessThan(1500);
    // Closing twice (SIGTERM, then the caller's cleanup) is harmless.
    await t.hub.close();
  });
});

describe('draining (SIGTERM behind a load balancer)', () => {
  it('says 503 on /readyz while still serving for BITENVOY_DRAIN_SECONDS, then hands long polls back on a closed connection', async () => {
    const t = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '50', BITENVOY_DRAIN_SECONDS: '1' });
    try {
      const agent = await t.enroll('draining');
      const held = fetch(`${t.url}/api/agent/v1/jobs/next?wait=50`, { headers: { authorization: `Bearer ${agent.credential}` } });
      await new Promise((r) => setTimeout(r, 200));
      const closed = t.hub.close();
      await new Promise((r) => setTimeout(r, 200));
      const ready = await t.call('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.json.problem).toBe('shutting down: send requests to another replica');
      // Everything else is still served meanwhile: the load balancer has not noticed yet.
      expect((await t.call('GET', '/livez')).status).toBe(200);
      expect((await t.call('GET', '/api/v1/agents', { token: ADMIN_TOKEN })).status).toBe(200);
      const startedAt = Date.now();
      const poll = await held;
      expect(poll.status).toBe(204);
      expect(poll.headers.get('connection')).toBe('close');
      expect(Date.now() - startedAt).toBeGreaterThan(400);
      await closed;
    } finally {
      await t.close();
    }
  });
});

describe('starting', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bitenvoy-hub-start-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('starts with an unreadable config repo and says why in /healthz', async () => {
    const settings = readHubSettings({ HOST: '127.0.0.1', PORT: '0', BITENVOY_DATA_DIR: join(dir, 'a'), BITENVOY_CONFIG_REPO: join(dir, 'no-such-repo') });
    const hub = await startHub(settings, { log: silentLogger() });
    try {
      const res = await fetch(`${hub.url.replace('localhost', '127.0.0.1')}/healthz`);
      const health = (await res.json()) as { ok: boolean; problem?: string; configRepos: Array<{ lastError?: string; sha?: string }> };
      // Not healthy (nothing can deploy), but alive: a liveness probe must not restart it for a config problem.
      expect(res.status).toBe(503);
      expect(health.ok).toBe(false);
      expect(health.problem).toMatch(/^no config is in force: /);
      expect(health.configRepos[0]!.sha).toBeUndefined();
      expect(health.configRepos[0]!.lastError).toContain('no-such-repo');
      const live = await fetch(`${hub.url.replace('localhost', '127.0.0.1')}/livez`);
      expect([live.status, ((await live.json()) as { ok: boolean }).ok]).toEqual([200, true]);
      // Not ready either: a load balancer sends nothing to a replica that cannot deploy.
      const ready = await fetch(`${hub.url.replace('localhost', '127.0.0.1')}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { problem: string }).problem).toMatch(/^no config is in force: /);
    } finally {
      await hub.close();
    }
  });

  it('explains a port in use and leaves nothing running', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const { port } = blocker.address() as AddressInfo;
    try {
      const settings = readHubSettings({ HOST: '127.0.0.1', PORT: String(port), BITENVOY_DATA_DIR: join(dir, 'b') });
      await expect(startHub(settings, { log: silentLogger() })).rejects.toThrow(`cannot listen on 127.0.0.1 port ${port}: it is in use by another process; stop it or set PORT to a free port`);
      // The store was closed: the same data dir opens again at once.
      const store = await openStore({ dataDir: join(dir, 'b') });
      await store.set('probe', 1);
      await store.close();
    } finally {
      blocker.close();
    }
  });
});
