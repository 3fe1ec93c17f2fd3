/**
 * The deployment's summary, server pages and log tails over real HTTP on a real SQLite store: the summary of a
 * 2,000-server rollout is as small as that of a 20-server one, pages cover every job exactly once in plan order
 * (with and without a state filter), and no request reads every agent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRoutes } from '../../app/api/admin-routes.js';
import type { DeploymentRecord } from '../../app/model.js';
import { jobIdsUpTo } from '../../app/rollout/engine-context.js';
import type { DeploymentSummary, ServerPage } from '../../app/rollout/deployment-view.js';
import { createKoa } from '../../app/server.js';
import type { Store } from '../../app/store/store.js';
import { silentLogger } from '../../lib/logger.js';
import { DEPLOY, openEngineFixture, stateEvent, type EngineFixture } from '../helpers/engine-fixture.js';

const TOKEN = 'test-admin-token';

interface Rig {
  f: EngineFixture;
  server: Server;
  base: string;
  dep: DeploymentRecord;
  /** Every prefix the routes listed in the store (a listing of `agent:` reads every agent). */
  listed: string[];
  close(): Promise<void>;
}

/** A store that records every prefix listing, and otherwise is the real one. */
function recordingStore(store: Store, listed: string[]): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === 'list') return (prefix: string) => (listed.push(prefix), target.list(prefix));
      const value = Reflect.get(target, name, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * A deployment to `servers` agents all at once; the first `failures` of them fail (agent names are zero-padded so
 * both sizes spell them alike), the next `successes` succeed, the rest stay pending.
 */
async function rig(servers: number, failures: number, successes: number): Promise<Rig> {
  const f = await openEngineFixture();
  const name = (i: number) => `web-${String(i).padStart(4, '0')}`;
  const id = (i: number) => `ag_${String(i).padStart(4, '0')}`;
  for (let i = 0; i < servers; i++) await f.addAgent(id(i), name(i));
  const engine = f.engine();
  const dep = await engine.createDeployment(DEPLOY, 'test');
  // The first server writes some log before it fails.
  const job = (await engine.nextJob(id(0)))!;
  await engine.claimJob(id(0), job.id, 'cl_0');
  await engine.appendEvents(id(0), job.id, 'cl_0', [stateEvent(1, 'running')]);
  await engine.appendLogs(id(0), job.id, 'cl_0', [{ seq: 1, at: '2026-11-25T10:00:03.000Z', stream: 'stdout', data: 'one\ntwo\nthree\n' }]);
  await engine.appendEvents(id(0), job.id, 'cl_0', [stateEvent(2, 'failed', `step migrate exited 1 on ${name(0)}`)]);
  for (let i = 1; i < failures; i++) await f.agentRuns(engine, id(i), 'failed', `step migrate exited 1 on ${name(i)}`);
  for (let i = failures; i < failures + successes; i++) await f.agentRuns(engine, id(i), 'succeeded');
  const listed: string[] = [];
  const koa = createKoa(silentLogger());
  const router = adminRoutes({ store: recordingStore(f.store, listed), engine, adminToken: TOKEN, publicUrl: () => 'http://hub.test' });
  koa.use(router.routes()).use(router.allowedMethods());
  const server = createServer(koa.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  return {
    f,
    server,
    base,
    dep: (await f.store.get<DeploymentRecord>(`deployment:${dep.id}`))!,
    listed,
    async close() {
      await new Promise((r) => server.close(r));
      await f.close();
    },
  };
}

async function jobOf(f: EngineFixture, dep: DeploymentRecord, agentId: string): Promise<string | undefined> {
  const fresh = (await f.store.get<DeploymentRecord>(`deployment:${dep.id}`))!;
  return jobIdsUpTo(fresh, fresh.currentBatch).find((j) => j.endsWith(`_${agentId.replace(/^ag_/, '')}`));
}

async function get<T>(r: Rig, path: string): Promise<{ status: number; text: string; json: T }> {
  const res = await fetch(`${r.base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) as T };
}

/** Every server, following `next` from the first page. */
async function allPages(r: Rig, query: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await get<ServerPage>(r, `/deployments/${r.dep.id}/servers?${query}${after ? `&after=${after}` : ''}`);
    expect(page.status, page.text).toBe(200);
    ids.push(...page.json.servers.map((s) => s.jobId));
    after = page.json.next;
    pages++;
  } while (after && pages < 1000);
  return { ids, pages };
}

let small: Rig;
let large: Rig;
beforeAll(async () => {
  small = await rig(20, 20, 0);
  large = await rig(2000, 25, 30);
}, 120_000);
afterAll(async () => {
  await small?.close();
  await large?.close();
});

describe('GET /api/v1/deployments/:id (the summary)', () => {
  it('is as small for 2,000 servers as for 20, and says the counts, batches and first failures', async () => {
    const s = await get<DeploymentSummary>(small, `/deployments/${small.dep.id}`);
    const l = await get<DeploymentSummary>(large, `/deployments/${large.dep.id}`);
    expect(l.status).toBe(200);
    // Only digits and the counts of two more states differ: far below one server's worth of bytes times 100.
    expect(Math.abs(l.text.length - s.text.length), `${s.text.length} vs ${l.text.length} bytes`).toBeLessThan(300);
    expect(l.text).not.toContain('ag_1999');
    expect(l.json.servers).toBe(2000);
    expect(l.json.counts).toEqual({ failed: 25, succeeded: 30, pending: 1945 });
    expect(l.json.deployment.batches).toEqual([{ index: 0, size: 2000, counts: { failed: 25, succeeded: 30, pending: 1945 } }]);
    expect(l.json.deployment).toMatchObject({ id: large.dep.id, state: 'in_progress', batchCount: 1, skippedCount: 0 });
    expect(l.json.failures).toHaveLength(20);
    expect(l.json.failures[0]).toMatchObject({ agentId: 'ag_0000', agentName: 'web-0000', batch: 0, state: 'failed', message: 'step migrate exited 1 on web-0000' });
    expect(l.json.failures.map((f) => f.agentName)).toEqual(Array.from({ length: 20 }, (_, i) => `web-${String(i).padStart(4, '0')}`));
    expect(s.json.counts).toEqual({ failed: 20 });
  });

  it('reads no list of every agent, for the summary, a page, a server or its log', async () => {
    large.listed.length = 0;
    const [first] = (await get<ServerPage>(large, `/deployments/${large.dep.id}/servers`)).json.servers;
    await get(large, `/deployments/${large.dep.id}`);
    await get(large, `/deployments/${large.dep.id}/servers/${first!.jobId}`);
    await get(large, `/deployments/${large.dep.id}/servers/${first!.jobId}/log`);
    expect(large.listed).toEqual([]);
  });

  it('answers 404 with the way to list them for an unknown deployment', async () => {
    const res = await get<{ error: { code: string; message: string } }>(small, '/deployments/dep_nope');
    expect(res.status).toBe(404);
    expect(res.json.error.message).toBe('no deployment dep_nope; `GET /api/v1/deployments` lists them');
  });
});

describe('GET /api/v1/deployments/:id/servers', () => {
  it('covers every job exactly once, in plan order, 200 a page', async () => {
    const { ids, pages } = await allPages(large, 'limit=200');
    expect(pages).toBe(10);
    expect(new Set(ids).size).toBe(2000);
    expect(ids).toEqual(jobIdsUpTo(large.dep, large.dep.currentBatch));
  });

  it('gives 50 by default with a cursor, and the fields of a row', async () => {
    const page = await get<ServerPage>(large, `/deployments/${large.dep.id}/servers`);
    expect(page.json.servers).toHaveLength(50);
    expect(page.json.next).toBe('49');
    expect(page.json.servers[0]).toEqual({
      jobId: expect.stringMatching(/^job_/),
      agentId: 'ag_0000',
      agentName: 'web-0000',
      batch: 0,
      state: 'failed',
      message: 'step migrate exited 1 on web-0000',
      claimedAt: expect.any(String),
      finishedAt: expect.any(String),
    });
    const second = await get<ServerPage>(large, `/deployments/${large.dep.id}/servers?after=49&limit=3`);
    expect(second.json.servers.map((s) => s.agentName)).toEqual(['web-0050', 'web-0051', 'web-0052']);
    const { ids } = await allPages(small, 'limit=7');
    expect(ids).toEqual(jobIdsUpTo(small.dep, 0));
  });

  it('filters by state, each matching job once, however sparse', async () => {
    const failed = await allPages(large, 'state=failed&limit=10');
    expect(failed.ids).toHaveLength(25);
    expect(new Set(failed.ids).size).toBe(25);
    const succeeded = await allPages(large, 'state=succeeded&limit=200');
    expect(succeeded.ids).toEqual(jobIdsUpTo(large.dep, 0).slice(25, 55));
    const pending = await allPages(large, 'state=pending&limit=200');
    expect(pending.ids).toHaveLength(1945);
    expect((await allPages(large, 'state=cancelled')).ids).toEqual([]);
  });

  it.each([
    ['limit=201', 'limit: expected a whole number from 1 to 200, got "201"'],
    ['limit=0', 'limit: expected a whole number from 1 to 200, got "0"'],
    ['after=abc', 'after: expected a cursor from an earlier page\'s `next`, got "abc"'],
    ['state=done', 'state: expected one of pending, claimed, fetching, running, succeeded, failed, refused, cancelled, got "done"'],
  ])('refuses %s, saying what it expected', async (query, message) => {
    const res = await get<{ error: { code: string; message: string } }>(small, `/deployments/${small.dep.id}/servers?${query}`);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'BE_BAD_REQUEST', message });
  });
});

describe('GET /api/v1/deployments/:id/servers/:jobId and …/log', () => {
  it('shows one server whole, and its log tail on demand, as many lines as asked', async () => {
    const jobId = (await jobOf(small.f, small.dep, 'ag_0000'))!;
    const detail = await get<{ server: { id: string; agentName: string; events: unknown[]; logsAckedSeq: number } }>(small, `/deployments/${small.dep.id}/servers/${jobId}`);
    expect(detail.json.server).toMatchObject({ id: jobId, agentName: 'web-0000', state: 'failed', logsAckedSeq: 1 });
    expect(detail.json.server.events).toHaveLength(2);
    const log = await get<{ lines: string[] }>(small, `/deployments/${small.dep.id}/servers/${jobId}/log`);
    expect(log.json).toEqual({ jobId, agentName: 'web-0000', state: 'failed', lines: ['one', 'two', 'three'] });
    expect((await get<{ lines: string[] }>(small, `/deployments/${small.dep.id}/servers/${jobId}/log?lines=2`)).json.lines).toEqual(['two', 'three']);
    const tooMany = await get<{ error: { message: string } }>(small, `/deployments/${small.dep.id}/servers/${jobId}/log?lines=501`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.message).toBe('lines: expected a whole number from 1 to 500, got "501"');
  });

  it('answers 404 for a job of another deployment, naming where to look', async () => {
    const other = (await jobOf(large.f, large.dep, 'ag_0000'))!;
    await small.f.store.set(`job:${other}`, { ...(await large.f.store.get(`job:${other}`))! });
    const res = await get<{ error: { message: string } }>(small, `/deployments/${small.dep.id}/servers/${other}`);
    expect(res.status).toBe(404);
    expect(res.json.error.message).toBe(`deployment ${small.dep.id} has no server job ${other}; \`GET /api/v1/deployments/${small.dep.id}/servers\` lists its jobs`);
  });
});
