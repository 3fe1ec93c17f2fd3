/**
 * The agent and admin APIs against bad input, on a real hub (SQLite file, config repo over git HTTP). Every refusal
 * must be the JSON envelope with the right status and a message that says what to do — and nothing may be lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnrollToken } from '../../app/enroll/create-enroll-token.js';
import { openStore } from '../../app/store/open-store.js';
import { MAX_AGENT_BODY_BYTES } from '../../lib/protocol.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

const AT = '2025-01-31T12:00:00.000Z';
let t: TestHub;
let web1: { agentId: string; credential: string };
let web2: { agentId: string; credential: string };

beforeAll(async () => {
  // Every poll here names its wait; the hub's cap is long enough that the held poll below outlasts creating a
  // deployment on a loaded machine (capped at 2 s, it once answered 204 before the job existed).
  t = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '30' });
  web1 = await t.enroll('web-1');
  web2 = await t.enroll('web-2');
});
afterAll(async () => t?.close());

async function tokenWith(ttlSeconds: number): Promise<string> {
  const store = await openStore({ dataDir: t.dataDir });
  try {
    return (await createEnrollToken(store, { ttlSeconds, createdBy: 'test' })).token;
  } finally {
    await store.close();
  }
}

describe('enrollment', () => {
  it('refuses an unknown token', async () => {
    const res = await t.call('POST', '/api/agent/v1/enroll', { body: { token: 'bte_nope', name: 'x', labels: {}, version: '1' } });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('BE_ENROLL_TOKEN_INVALID');
    expect(res.json.error.message).toMatch(/unknown enrollment token; create a new one with `bitenvoy hub token create`/);
  });

  it('refuses a used token, and an expired one', async () => {
    const token = await tokenWith(3600);
    const first = await t.call('POST', '/api/agent/v1/enroll', { body: { token, name: 'once', labels: {}, version: '1' } });
    expect(first.status).toBe(201);
    const again = await t.call('POST', '/api/agent/v1/enroll', { body: { token, name: 'twice', labels: {}, version: '1' } });
    expect(again.status).toBe(401);
    expect(again.json.error.message).toMatch(/already used \(by once/);

    const store = await openStore({ dataDir: t.dataDir });
    const expired = (await createEnrollToken(store, { ttlSeconds: -1, createdBy: 'test' })).token;
    await store.close();
    const late = await t.call('POST', '/api/agent/v1/enroll', { body: { token: expired, name: 'late', labels: {}, version: '1' } });
    expect(late.status).toBe(401);
    expect(late.json.error.message).toMatch(/expired at/);
  });

  it('refuses a taken name without spending the token', async () => {
    const token = await tokenWith(3600);
    const dup = await t.call('POST', '/api/agent/v1/enroll', { body: { token, name: 'web-1', labels: {}, version: '1' } });
    expect(dup.status).toBe(409);
    expect(dup.json.error.message).toMatch(/already enrolled; choose another --name/);
    const retry = await t.call('POST', '/api/agent/v1/enroll', { body: { token, name: 'web-9', labels: {}, version: '1' } });
    expect(retry.status).toBe(201);
  });

  it('validates labels', async () => {
    const token = await tokenWith(3600);
    const res = await t.call('POST', '/api/agent/v1/enroll', { body: { token, name: 'web-x', labels: { role: 'web server' }, version: '1' } });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/^labels\.role: expected up to 63 letters/);
  });
});

describe('malformed requests', () => {
  it('answers invalid JSON with 400', async () => {
    const res = await t.call('POST', '/api/agent/v1/jobs/x/claim', { raw: '{"claimId":', token: web1.credential });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/not valid JSON/);
  });

  it('answers a wrong content type with 400', async () => {
    const res = await t.call('POST', '/api/agent/v1/jobs/x/claim', { raw: 'claimId=1', token: web1.credential, contentType: 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/content-type: application\/json/);
  });

  it('answers an oversized body with 413 and keeps serving', async () => {
    const huge = JSON.stringify({ claimId: 'cl_12345678', chunks: [{ seq: 1, at: 'now', stream: 'stdout', data: 'x'.repeat(MAX_AGENT_BODY_BYTES) }] });
    const res = await t.call('POST', '/api/agent/v1/jobs/x/logs', { raw: huge, token: web1.credential });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('BE_BODY_TOO_LARGE');
    expect((await t.call('GET', '/healthz')).status).toBe(200);
  });

  it('answers a streamed body (no content-length) with 413 as soon as it passes the limit', async () => {
    let sent = 0;
    const piece = new TextEncoder().encode('x'.repeat(64 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_AGENT_BODY_BYTES + 256 * 1024) return controller.close();
        sent += piece.length;
        controller.enqueue(piece);
      },
    });
    const init = { method: 'POST', body: stream, duplex: 'half', headers: { 'content-type': 'application/json', authorization: `Bearer ${web1.credential}` } };
    const res = await fetch(`${t.url}/api/agent/v1/jobs/x/logs`, init as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BE_BODY_TOO_LARGE');
    // The hub goes on serving (the refused upload's connection is closed after the answer: cut-unread-body.ts).
    expect((await t.call('GET', '/healthz')).status).toBe(200);
  });

  it('answers a method a route does not take with a JSON 405', async () => {
    const res = await t.call('DELETE', '/api/v1/agents', { token: ADMIN_TOKEN });
    expect(res.status).toBe(405);
    expect(res.json.error).toEqual({ code: 'BE_METHOD_NOT_ALLOWED', message: 'DELETE /api/v1/agents is not allowed; this route accepts HEAD, GET' });
  });

  it('names the bad field of an events body', async () => {
    const res = await t.call('POST', '/api/agent/v1/jobs/x/events', {
      token: web1.credential,
      body: { claimId: 'cl_12345678', events: [{ seq: 1, at: AT, type: 'state', state: 'running' }, { seq: -2, at: AT, type: 'state', state: 'running' }] },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('events[1].seq: expected an integer ≥ 1, got -2');
  });

  it.each([
    [{ events: [{ seq: 1, at: 'now', type: 'state', state: 'running' }] }, 'events[0].at: expected an ISO 8601 time like `2025-01-31T12:00:00.000Z`, got "now"'],
    [{ events: [{ seq: 1, at: AT, type: 'state', state: 'claimed' }] }, 'events[0].state: expected one of "fetching", "running", "succeeded", "failed", "refused", "cancelled", got "claimed"'],
    [{ events: [{ seq: 1, at: AT, type: 'state', state: 'running', extra: 1 }] }, 'unknown field `extra` in events[0]'],
    [{ events: [{ seq: 1, at: AT, type: 'step', status: 'started' }] }, 'events[0] is missing the required field `step`'],
    [{ events: [{ seq: 1, at: AT, type: 'step', step: { index: 0, name: 'build' }, status: 'started', exitCode: 'x' }] }, 'events[0].exitCode: expected an integer or null, got "x"'],
    [{ events: {} }, 'events: expected an array, got {}'],
    [{}, 'the body is missing the required field `events`'],
    [{ events: [{ seq: 1, at: AT, type: 'step', step: { index: -1, name: 'build' }, status: 'started' }] }, 'events[0].step.index: expected an integer from 0 to 1000, got -1'],
  ])('explains a bad events body: %j', async (fields, message) => {
    const res = await t.call('POST', '/api/agent/v1/jobs/x/events', { token: web1.credential, body: { claimId: 'cl_12345678', ...fields } });
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({ code: 'BE_BAD_REQUEST', message });
  });

  it.each([
    [{ chunks: [{ seq: 1, at: AT, stream: 'stdin', data: '' }] }, 'chunks[0].stream: expected one of "stdout", "stderr", "system", got "stdin"'],
    [{ chunks: [{ seq: 0, at: AT, stream: 'stdout', data: '' }] }, 'chunks[0].seq: expected an integer ≥ 1, got 0'],
    [{ chunks: [{ seq: 1, at: AT, stream: 'stdout' }] }, 'chunks[0] is missing the required field `data`'],
    [{ claimId: 'short', chunks: [] }, 'claimId: expected the idempotency key of the claim, got "short"'],
  ])('explains a bad logs body: %j', async (fields, message) => {
    const res = await t.call('POST', '/api/agent/v1/jobs/x/logs', { token: web1.credential, body: { claimId: 'cl_12345678', ...fields } });
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({ code: 'BE_BAD_REQUEST', message });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await t.call('GET', '/api/agent/v1/nothing');
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('BE_NOT_FOUND');
  });

  it('says the webhook path needs GitHub credentials in local mode', async () => {
    const res = await t.call('POST', '/api/github/webhooks', { body: {} });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('BE_GITHUB_NOT_CONFIGURED');
  });
});

describe('credentials', () => {
  it('refuses a missing or unknown agent credential with 401', async () => {
    expect((await t.call('GET', '/api/agent/v1/jobs/next?wait=0')).status).toBe(401);
    const res = await t.call('GET', '/api/agent/v1/jobs/next?wait=0', { token: 'bta_forged' });
    expect(res.status).toBe(401);
    expect(res.json.error.message).toMatch(/enroll it again/);
  });

  it('requires the admin token for the admin API', async () => {
    expect((await t.call('GET', '/api/v1/agents')).status).toBe(401);
    expect((await t.call('GET', '/api/v1/agents', { token: 'wrong' })).status).toBe(401);
    const ok = await t.call('GET', '/api/v1/agents', { token: ADMIN_TOKEN });
    expect(ok.status).toBe(200);
    expect(ok.json.agents[0]).not.toHaveProperty('credentialHash');
  });
});

describe('jobs', () => {
  it('long-polls: 204 after the wait, and wakes at once when a job appears', async () => {
    const started = Date.now();
    const idle = await t.call('GET', '/api/agent/v1/jobs/next?wait=1', { token: web1.credential });
    expect(idle.status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);

    const poll = t.call('GET', '/api/agent/v1/jobs/next?wait=30', { token: web1.credential });
    await new Promise((r) => setTimeout(r, 200));
    const created = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/shop', ref: 'main', environment: 'staging' } });
    expect(created.status).toBe(201);
    const woken = await poll;
    expect(woken.status).toBe(200);
    expect(woken.json.job.deploymentId).toBe(created.json.deployment.id);
    expect(woken.json.job.sha).toMatch(/^[0-9a-f]{40}$/);
  });

  it('claims once: a retry with the same claimId is fine, another claimId gets 409, another agent 404', async () => {
    const next = await t.call('GET', '/api/agent/v1/jobs/next?wait=0', { token: web2.credential });
    const jobId = next.json.job.id as string;
    const claim = (claimId: string, token = web2.credential) => t.call('POST', `/api/agent/v1/jobs/${jobId}/claim`, { token, body: { claimId } });
    expect((await claim('cl_aaaaaaaa')).status).toBe(200);
    expect((await claim('cl_aaaaaaaa')).status).toBe(200);
    const other = await claim('cl_bbbbbbbb');
    expect(other.status).toBe(409);
    expect(other.json.error.code).toBe('BE_JOB_CLAIMED');
    const stranger = await claim('cl_aaaaaaaa', web1.credential);
    expect(stranger.status).toBe(404);

    const events = (body: unknown, token = web2.credential) => t.call('POST', `/api/agent/v1/jobs/${jobId}/events`, { token, body });
    const e = (seq: number, state = 'running') => ({ seq, at: new Date().toISOString(), type: 'state', state });
    expect((await events({ claimId: 'cl_aaaaaaaa', events: [e(1, 'fetching')] })).json.ackedSeq).toBe(1);
    // Duplicates are harmless; a gap says where to resend from.
    expect((await events({ claimId: 'cl_aaaaaaaa', events: [e(1, 'fetching')] })).json.ackedSeq).toBe(1);
    const gap = await events({ claimId: 'cl_aaaaaaaa', events: [e(3)] });
    expect(gap.status).toBe(409);
    expect(gap.json.error.details.expectedSeq).toBe(2);
    expect((await events({ claimId: 'cl_aaaaaaaa', events: [e(2), e(3)] })).json.ackedSeq).toBe(3);
    // Another agent cannot report on it, and its view of the job is a 404 like a missing one.
    expect((await events({ claimId: 'cl_aaaaaaaa', events: [e(4)] }, web1.credential)).status).toBe(404);
    expect((await t.call('POST', `/api/agent/v1/jobs/job_nope/lease`, { token: web2.credential, body: { claimId: 'cl_aaaaaaaa' } })).status).toBe(404);

    const lease = await t.call('POST', `/api/agent/v1/jobs/${jobId}/lease`, { token: web2.credential, body: { claimId: 'cl_aaaaaaaa' } });
    expect(lease.status).toBe(200);
    expect(lease.json.cancelRequested).toBe(false);
    const view = await t.call('GET', `/api/v1/deployments/${next.json.job.deploymentId}/servers/${jobId}`, { token: ADMIN_TOKEN });
    const job = view.json.server;
    expect(job.id).toBe(jobId);
    expect(job.state).toBe('running');
    expect(job.events).toHaveLength(3);
  });

  it('lists deployments and shows one over the admin API, with the status page URL', async () => {
    const created = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/shop', ref: 'main', environment: 'staging' } });
    expect(created.status).toBe(201);
    const id = created.json.deployment.id as string;
    // The test hub sets no BITENVOY_PUBLIC_URL and PORT=0: the default names the port it got.
    expect(created.json.url).toBe(`${t.url}/deployments/${id}`);
    const listed = await t.call('GET', '/api/v1/deployments?limit=1', { token: ADMIN_TOKEN });
    expect(listed.json.deployments.map((d: { id: string }) => d.id)).toEqual([id]);
    const view = await t.call('GET', `/api/v1/deployments/${id}`, { token: ADMIN_TOKEN });
    expect(view.status).toBe(200);
    // Earlier tests left staging busy: a new deployment has jobs, or waits for the active one.
    expect(Object.keys(view.json.counts).length > 0 || typeof view.json.deployment.waitingFor === 'string').toBe(true);
    const notPaused = await t.call('POST', `/api/v1/deployments/${id}/continue`, { token: ADMIN_TOKEN });
    expect(notPaused.status).toBe(409);
    expect(notPaused.json.error.message).toMatch(new RegExp(`^deployment ${id} is not paused \\(it is (queued|in_progress): .*\\); only a rollout waiting between batches can be continued$`));
    expect((await t.call('POST', '/api/v1/deployments/dep_nope/continue', { token: ADMIN_TOKEN })).status).toBe(404);
    const missing = await t.call('GET', '/api/v1/deployments/dep_nope', { token: ADMIN_TOKEN });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('BE_NOT_FOUND');
    const bad = await t.call('GET', '/api/v1/deployments?limit=0', { token: ADMIN_TOKEN });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toBe('limit: expected a whole number from 1 to 500, got "0"');
  });

  it('refuses deployments it cannot plan, naming what is configured', async () => {
    const res = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/nope', ref: 'main', environment: 'staging' } });
    expect(res.status).toBe(422);
    expect(res.json.error.message).toBe('repository `demo/nope` is not configured; configured: demo/shop');
    const env = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/shop', ref: 'main', environment: 'prod' } });
    expect(env.json.error.message).toBe('demo/shop has no environment `prod`; its environments: staging');
    const ref = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/shop', ref: 'no-such-branch', environment: 'staging' } });
    expect(ref.status).toBe(422);
    expect(ref.json.error.code).toBe('BE_REF_NOT_FOUND');
  });
});
