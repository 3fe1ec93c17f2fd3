/**
 * The agent credential middlewares (app/api/agent-auth.ts) on a real SQLite store behind a real HTTP server: the job
 * routes' check believes a credential the store knew a moment ago (no store read per claim and report), the cloud
 * routes' check reads the whole record every time, and forgetting a credential counts at once.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentAuth, agentIdentityAuth, forgetAgentCredentials } from '../../app/api/agent-auth.js';
import { AGENT_CREDENTIAL_GUESSES, GuessLimiter } from '../../app/api/guess-limiter.js';
import { createEnrollToken } from '../../app/enroll/create-enroll-token.js';
import { enrollAgent } from '../../app/enroll/enroll-agent.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import { toErrorEnvelope } from '../../lib/errors.js';

let dir: string;
let store: Store;
let server: Server;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-agent-auth-'));
  store = await openStore({ dataDir: dir });
  const guesses = new GuessLimiter(AGENT_CREDENTIAL_GUESSES);
  const app = new Koa();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const { status, body } = toErrorEnvelope(err);
      ctx.status = status;
      ctx.body = body;
    }
  });
  const job = agentIdentityAuth(store, guesses);
  const whole = agentAuth(store, guesses);
  app.use(async (ctx, next) => {
    const check = ctx.path === '/job' ? job : whole;
    await check(ctx, async () => {
      ctx.body = ctx.state.agent as object;
    });
    await next();
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

async function enroll(name: string) {
  const { token } = await createEnrollToken(store, { createdBy: 'test' });
  return enrollAgent(store, { token, name, labels: { role: 'web' }, version: 'test' }, { pollWaitSeconds: 50, leaseSeconds: 60, heartbeatSeconds: 60 }, Date.now());
}

const ask = async (path: '/job' | '/cloud', credential: string) => {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${credential}` } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

describe('agent credentials', () => {
  it('gives the job routes who the agent is: its id and name, not its record', async () => {
    const agent = await enroll('web-who');
    const res = await ask('/job', agent.credential);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: agent.agentId, name: 'web-who' });
    expect(res.json).not.toHaveProperty('credentialHash');
    expect((await ask('/cloud', agent.credential)).json).toMatchObject({ id: agent.agentId, name: 'web-who', labels: { role: 'web' } });
  });

  it('lets the job routes believe a credential the store just knew, the cloud routes never, until its process forgets it', async () => {
    const agent = await enroll('web-remembered');
    expect((await ask('/job', agent.credential)).status).toBe(200);
    // Taken back behind the hub's back (nothing does this today; whatever comes to do it calls forgetAgentCredentials).
    await store.db.run("UPDATE agents SET credential_hash = 'taken-back' WHERE key = ?", `agent:${agent.agentId}`);
    expect((await ask('/job', agent.credential)).status).toBe(200);
    expect((await ask('/cloud', agent.credential)).status).toBe(401);
    forgetAgentCredentials(store, agent.agentId);
    const refused = await ask('/job', agent.credential);
    expect(refused.status).toBe(401);
    expect(refused.json).toMatchObject({ error: { code: 'BE_UNAUTHORIZED' } });
  });

  it('never remembers a credential the store did not know', async () => {
    expect((await ask('/job', 'bta_never-enrolled')).status).toBe(401);
    expect((await ask('/job', 'bta_never-enrolled')).status).toBe(401);
  });
});
