/**
 * The deployment's event stream (`GET /api/v1/deployments/:id/events`) on a real hub (real SQLite file, real config
 * repo over git HTTP): the first summary, a summary per change and `end` at the final state; nothing while nothing
 * changes; a change written by another process seen by the periodic re-read; listeners released when the client goes
 * away or the hub stops; the cap of open streams and the keepalive on a hub rig with shortened settings.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRoutes } from '../../app/api/admin-routes.js';
import { keys, type DeploymentRecord, type JobRecord } from '../../app/model.js';
import type { DeploymentSummary } from '../../app/rollout/deployment-view.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { createKoa } from '../../app/server.js';
import { openStore } from '../../app/store/open-store.js';
import { SseParser, type SseMessage } from '../../cli/commands/sse-parser.js';
import { silentLogger } from '../../lib/logger.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY } from '../../testbed/sample-app.js';
import { DEPLOY, openEngineFixture, stateEvent, type EngineFixture } from '../helpers/engine-fixture.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

/** An open event stream, read in the background: its messages, its raw text, and how it ended. */
interface Stream {
  res: Response;
  messages: SseMessage[];
  raw: string;
  /** `done` when the response ended cleanly, `error` when the connection broke. */
  ended: 'done' | 'error' | undefined;
  /** Resolves once the response has ended either way. */
  finished: Promise<void>;
  summaries(): DeploymentSummary[];
  close(): void;
}

async function openStream(base: string, id: string, token = ADMIN_TOKEN): Promise<Stream> {
  const abort = new AbortController();
  const res = await fetch(`${base}/api/v1/deployments/${id}/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  const stream: Stream = {
    res,
    messages: [],
    raw: '',
    ended: undefined,
    finished: Promise.resolve(),
    summaries: () => stream.messages.filter((m) => m.event === 'summary').map((m) => JSON.parse(m.data) as DeploymentSummary),
    close: () => abort.abort(),
  };
  const parser = new SseParser(base);
  const decoder = new TextDecoder();
  stream.finished = (async () => {
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return void (stream.ended = 'done');
        const text = decoder.decode(value, { stream: true });
        stream.raw += text;
        stream.messages.push(...parser.push(text));
      }
    } catch {
      stream.ended = 'error';
    }
  })();
  return stream;
}

/** Plays an agent through the engine (as its API calls would): claim, running, then the outcome. */
async function runJob(engine: RolloutEngine, agentId: string, outcome: 'succeeded' | 'failed' = 'succeeded'): Promise<void> {
  const job = await engine.nextJob(agentId);
  if (!job) throw new Error(`no job for ${agentId}`);
  await engine.claimJob(agentId, job.id, `cl_${job.id}`);
  await engine.appendEvents(agentId, job.id, `cl_${job.id}`, [stateEvent(1, 'running'), stateEvent(2, outcome, outcome === 'failed' ? 'step migrate exited 1' : undefined)]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the deployment event stream on a real hub', () => {
  let t: TestHub;
  let agents: string[];
  beforeAll(async () => {
    t = await startTestHub();
    agents = [(await t.enroll('web-1')).agentId, (await t.enroll('web-2')).agentId];
  });
  afterAll(async () => t?.close());

  async function deploy(): Promise<DeploymentRecord> {
    const res = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: SAMPLE_REPOSITORY, ref: 'main', environment: SAMPLE_ENVIRONMENT } });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    return res.json.deployment as DeploymentRecord;
  }

  /** Runs every job still pending, so the environment is free for the next test. */
  async function finish(): Promise<void> {
    for (const agentId of agents) if (await t.hub.engine.nextJob(agentId)) await runJob(t.hub.engine, agentId);
  }

  it('sends the summary, a summary per change, and at the final state the last one and `end`; then the response ends', async () => {
    const dep = await deploy();
    const stream = await openStream(t.url, dep.id);
    expect(stream.res.status).toBe(200);
    expect(stream.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.res.headers.get('cache-control')).toBe('no-store');
    expect(stream.res.headers.get('x-accel-buffering')).toBe('no');
    await expect.poll(() => stream.messages.length).toBe(1);
    expect(stream.messages[0]!.event).toBe('summary');
    expect(stream.summaries()[0]).toMatchObject({ deployment: { id: dep.id }, counts: { pending: 2 }, servers: 2 });

    await runJob(t.hub.engine, agents[0]!);
    await expect.poll(() => stream.summaries().at(-1)?.counts.succeeded).toBe(1);
    expect(stream.ended).toBeUndefined();

    await runJob(t.hub.engine, agents[1]!);
    await stream.finished;
    expect(stream.ended).toBe('done');
    const last = stream.summaries().at(-1)!;
    expect(last).toMatchObject({ deployment: { state: 'success' }, counts: { succeeded: 2 } });
    expect(stream.messages.at(-1)).toEqual({ event: 'end', data: '{}' });
    // Only summaries and the one `end`; each summary differs from the one before it.
    expect(stream.messages.filter((m) => m.event !== 'summary')).toHaveLength(1);
    const sent = stream.messages.filter((m) => m.event === 'summary').map((m) => m.data);
    expect(sent.every((data, i) => i === 0 || data !== sent[i - 1])).toBe(true);
  });

  it('of a deployment already final: its summary and `end`', async () => {
    const dep = (await t.call('GET', '/api/v1/deployments?limit=1', { token: ADMIN_TOKEN })).json.deployments[0] as DeploymentRecord;
    expect(dep.state).toBe('success');
    const stream = await openStream(t.url, dep.id);
    await stream.finished;
    expect(stream.ended).toBe('done');
    expect(stream.messages.map((m) => m.event)).toEqual(['summary', 'end']);
  });

  it('sends nothing while nothing changes, though it reads the summary again every second', async () => {
    const dep = await deploy();
    const stream = await openStream(t.url, dep.id);
    await expect.poll(() => stream.messages.length).toBe(1);
    // Two and a half re-reads: each finds the same summary and sends nothing (not even a keepalive, due after 15 s).
    await sleep(2500);
    expect(stream.messages).toHaveLength(1);
    // The reconnect delay the stream opens with, then the one summary.
    expect(stream.raw.startsWith('retry: 2000\n\n')).toBe(true);
    expect(stream.raw.match(/\n\n/g)).toHaveLength(2);
    stream.close();
    await finish();
  });

  it('sees a change written by another process on the same SQLite file (the re-read, not the engine’s signal)', async () => {
    const dep = await deploy();
    const stream = await openStream(t.url, dep.id);
    await expect.poll(() => stream.messages.length).toBe(1);
    // Another process takes a server's job (as a second hub replica would): the engine here hears nothing of it.
    const job = (await t.hub.engine.nextJob(agents[0]!))!;
    const other = await openStore({ dataDir: t.dataDir });
    try {
      const lease = new Date(Date.now() + 600_000).toISOString();
      await other.update<JobRecord>(keys.job(job.id), (j) => j && { ...j, state: 'claimed', claimId: 'cl_other', claimedAt: new Date().toISOString(), leaseExpiresAt: lease });
    } finally {
      await other.close();
    }
    await expect.poll(() => stream.summaries().at(-1)?.counts, { timeout: 5000 }).toEqual({ claimed: 1, pending: 1 });
    stream.close();
    await t.hub.engine.appendEvents(agents[0]!, job.id, 'cl_other', [stateEvent(1, 'running'), stateEvent(2, 'succeeded')]);
    await finish();
  });

  it('sends a burst of changes as a few summaries, the last one current', async () => {
    const dep = await deploy();
    const stream = await openStream(t.url, dep.id);
    await expect.poll(() => stream.messages.length).toBe(1);
    // 60 changes 20 ms apart, each signalled as the engine does: at most one read per 250 ms follows them, so the
    // stream sends a handful of summaries instead of 60 (the bound grows with the time taken on a slow machine). The
    // field changed is one the engine never rewrites (its lease check rewrites a description that is not its own).
    const store = await openStore({ dataDir: t.dataDir });
    const started = Date.now();
    try {
      for (let i = 1; i <= 60; i++) {
        await store.update<DeploymentRecord>(keys.deployment(dep.id), (d) => d && { ...d, environmentUrl: `https://change-${i}.example` });
        t.hub.engine.changes.notify(dep.id);
        await sleep(20);
      }
    } finally {
      await store.close();
    }
    await expect.poll(() => stream.summaries().at(-1)?.deployment.environmentUrl, { timeout: 5000 }).toBe('https://change-60.example');
    const changes = stream.summaries().length - 1;
    expect(changes).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 250) + 2);
    expect(changes).toBeLessThan(30);
    stream.close();
    await finish();
  });

  it('releases its listener when the client goes away', async () => {
    const dep = await deploy();
    const changes = t.hub.engine.changes;
    const before = changes.listenerCount;
    const stream = await openStream(t.url, dep.id);
    await expect.poll(() => stream.messages.length).toBe(1);
    expect(changes.listenerCount).toBe(before + 1);
    stream.close();
    await expect.poll(() => changes.listenerCount).toBe(before);
    await finish();
  });

  it('answers an unknown id with the 404 the summary route gives, and a wrong token with 401', async () => {
    const summary = await t.call('GET', '/api/v1/deployments/dep_000000000000', { token: ADMIN_TOKEN });
    const events = await t.call('GET', '/api/v1/deployments/dep_000000000000/events', { token: ADMIN_TOKEN });
    expect(events.status).toBe(404);
    expect(events.json).toEqual(summary.json);
    expect(events.json.error.code).toBe('BE_NOT_FOUND');
    expect((await t.call('GET', '/api/v1/deployments/dep_000000000000/events', { token: 'wrong' })).status).toBe(401);
  });

  // Last: it stops the hub.
  it('ends open streams (cleanly, without `end`) when the hub stops, so close() does not wait for them', async () => {
    const dep = await deploy();
    const stream = await openStream(t.url, dep.id);
    await expect.poll(() => stream.messages.length).toBe(1);
    await t.hub.close();
    await stream.finished;
    // Ended by the hub, not cut when close() gives up on busy connections.
    expect(stream.ended).toBe('done');
    expect(stream.messages.map((m) => m.event)).toEqual(['summary']);
    expect(t.hub.engine.changes.listenerCount).toBe(0);
  });
});

describe('the event stream’s cap and keepalive (engine on a real store, shortened settings)', () => {
  let f: EngineFixture;
  let server: Server;
  let base: string;
  let dep: DeploymentRecord;
  let engine: RolloutEngine;
  /** Set by a test: the next read of a deployment record waits for it to resolve. */
  let holdNextRead: Promise<void> | undefined;
  let readsDone = 0;
  /** Reads of the deployment record, every one counted. */
  let deploymentReads = 0;
  beforeAll(async () => {
    f = await openEngineFixture();
    await f.addAgent('ag_1', 'web-1');
    engine = f.engine();
    dep = await engine.createDeployment(DEPLOY, 'test');
    // The real store, but a test may hold back one read of a deployment record.
    const store = new Proxy(f.store, {
      get(target, name, receiver) {
        if (name === 'get') {
          return async (key: string) => {
            if (key.startsWith('deployment:')) deploymentReads++;
            const hold = key.startsWith('deployment:') ? holdNextRead : undefined;
            holdNextRead = undefined;
            if (hold) await hold;
            const value: unknown = await target.get(key);
            if (hold) readsDone++;
            return value;
          };
        }
        const value = Reflect.get(target, name, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const koa = createKoa(silentLogger());
    const router = adminRoutes({ store, engine, adminToken: ADMIN_TOKEN, publicUrl: () => 'http://hub.test', streamTimings: { maxStreams: 2, keepaliveMs: 300 } });
    koa.use(router.routes()).use(router.allowedMethods());
    server = createServer(koa.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await f.close();
  });

  it('serves every stream of one deployment from one reader', async () => {
    const first = await openStream(base, dep.id);
    const second = await openStream(base, dep.id);
    await expect.poll(() => first.messages.length + second.messages.length).toBe(2);
    deploymentReads = 0;
    // Three re-reads a second apart by one shared reader; a reader per stream would make six.
    await sleep(3200);
    expect(deploymentReads).toBeGreaterThan(0);
    expect(deploymentReads).toBeLessThanOrEqual(4);
    first.close();
    second.close();
    await Promise.all([first.finished, second.finished]);
  });

  it('refuses a stream past the cap with 503 and what to do, and takes one again once a stream closed', async () => {
    const first = await openStream(base, dep.id);
    const second = await openStream(base, dep.id);
    const third = await fetch(`${base}/api/v1/deployments/${dep.id}/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('5');
    const body = (await third.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('BE_BUSY');
    expect(body.error.message).toBe(`this hub already serves 2 deployment event streams: follow ${dep.id} with \`GET /api/v1/deployments/${dep.id}\` every few seconds instead, or open the stream again later`);
    first.close();
    await expect.poll(async () => {
      const again = await openStream(base, dep.id);
      again.close();
      return again.res.status;
    }).toBe(200);
    second.close();
  });

  it('holds nothing for a client that went away while its first summary was read', async () => {
    let release!: () => void;
    holdNextRead = new Promise((resolve) => (release = resolve));
    const abort = new AbortController();
    const request = fetch(`${base}/api/v1/deployments/${dep.id}/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: abort.signal });
    // The route is reading the deployment (the read took the hold).
    await expect.poll(() => holdNextRead === undefined).toBe(true);
    abort.abort();
    await expect(request).rejects.toThrow();
    await sleep(100);
    release();
    await expect.poll(() => readsDone).toBe(1);
    await sleep(100);
    expect(engine.changes.listenerCount).toBe(0);
  });

  it('writes a keepalive comment when nothing was written for a while, and no summary', async () => {
    const stream = await openStream(base, dep.id);
    await expect.poll(() => stream.raw.includes(': keepalive\n\n'), { timeout: 5000 }).toBe(true);
    expect(stream.messages).toHaveLength(1);
    stream.close();
  });
});
