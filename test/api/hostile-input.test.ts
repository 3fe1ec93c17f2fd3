/**
 * A real hub (SQLite file, config repo over git HTTP) against hostile clients: absurdly nested JSON, endless
 * uploads, guessers of the admin token and of agent credentials, and an agent flooding its log. Every refusal is
 * the JSON envelope with the right status, says when to try again where that helps — and never locks out the
 * real users.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_AGENT_BODY_BYTES } from '../../lib/protocol.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';
import { streamUpload } from './stream-upload.js';

const MiB = 1024 * 1024;
const AT = '2025-01-31T12:00:00.000Z';
let t: TestHub;
let web1: { agentId: string; credential: string };

beforeAll(async () => {
  t = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '1' });
  web1 = await t.enroll('web-1');
});
afterAll(async () => t?.close());

/** A request as if from `address` behind the hub's reverse proxy (the test connects from loopback, a proxy address). */
async function from(address: string, method: string, path: string, init: { token?: string; body?: string; contentType?: string; origin?: string } = {}) {
  const headers: Record<string, string> = { 'x-forwarded-for': address };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
  if (init.origin) headers.origin = init.origin;
  const res = await fetch(`${t.url}${path}`, { method, headers, body: init.body, redirect: 'manual' });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text) as { error: { code: string; message: string; details?: { retryAfterSeconds?: number } } };
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, retryAfter: res.headers.get('retry-after') };
}

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

describe('deeply nested JSON', () => {
  it.each([
    ['enrollment', '/api/agent/v1/enroll', undefined],
    ['an admin route', '/api/v1/deployments', ADMIN_TOKEN],
  ])('answers 5,000-deep JSON to %s with 400, wherever the nesting is', async (_what, path, token) => {
    for (const body of [deep(5000), `{"token":"x","name":"a","labels":${deep(5000)},"version":"1"}`, `{"repository":{"a":${deep(5000)}}}`, `{"x":"[[[[","labels":${deep(65)}}`]) {
      const res = await t.call('POST', path, { raw: body, ...(token ? { token } : {}) });
      expect(res.status).toBe(400);
      expect(res.json.error).toEqual({ code: 'BE_BAD_REQUEST', message: 'the body nests objects and arrays more than 64 levels deep; no BitEnvoy request needs that many' });
    }
  });

  it('still explains a shallower body that is wrong, without a 500, however wide or long its values', async () => {
    const nested = await t.call('POST', '/api/agent/v1/enroll', { raw: `{"token":"x","name":"a","labels":${deep(60)},"version":"1"}` });
    expect(nested.status).toBe(400);
    expect(nested.json.error.message).toBe('labels: expected an object, got [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]…');
    const long = await t.call('POST', '/api/agent/v1/enroll', { body: { token: 'x', name: 'a'.repeat(100_000), labels: {}, version: '1' } });
    expect(long.status).toBe(400);
    expect(long.json.error.message.length).toBeLessThan(300);
    // Brackets inside strings are text, not nesting.
    const quoted = await t.call('POST', '/api/agent/v1/enroll', { body: { token: deep(100), name: 'x', labels: {}, version: '1' } });
    expect(quoted.json.error.code).toBe('BE_ENROLL_TOKEN_INVALID');
  });
});

describe('endless uploads', () => {
  it('answers a 100 MiB body streamed to the agent API with 413 after the first MiB, and cuts it off', async () => {
    const res = await streamUpload(`${t.url}/api/agent/v1/jobs/x/logs`, { headers: { 'content-type': 'application/json', authorization: `Bearer ${web1.credential}` }, totalBytes: 100 * MiB });
    console.log(`agent API, 100 MiB chunked: answered ${res.status} after ${(res.sentWhenAnswered / MiB).toFixed(1)} MiB, cut: ${res.cut} after ${Math.round(res.sent / MiB)} MiB`);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('BE_BODY_TOO_LARGE');
    expect(res.sentWhenAnswered).toBeLessThan(MAX_AGENT_BODY_BYTES + 16 * MiB);
    expect(res.cut).toBe(true);
    expect(res.sent).toBeLessThan(40 * MiB);
  });

  it('cuts an upload refused before its body was read (no credential), instead of reading it to the end', async () => {
    const res = await streamUpload(`${t.url}/api/agent/v1/jobs/x/logs`, { headers: { 'content-type': 'application/json' }, totalBytes: 100 * MiB, declareLength: true });
    expect(res.status).toBe(401);
    expect(res.cut).toBe(true);
    expect(res.sent).toBeLessThan(40 * MiB);
    expect((await t.call('GET', '/healthz')).status).toBe(200);
  });

  it('cuts a sign-in form that is far too long', async () => {
    const res = await streamUpload(`${t.url}/login`, { headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.url }, totalBytes: 100 * MiB });
    expect(res.status).toBe(413);
    expect(res.cut).toBe(true);
  });
});

describe('guessing the admin token', () => {
  it('answers 429 with Retry-After after 10 wrong tokens from one address, refusing even the right one there, while another address gets in', async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 100; i++) {
      last = await from('203.0.113.10', 'POST', '/login', { body: `token=guess-${i}`, contentType: 'application/x-www-form-urlencoded', origin: t.url });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(90).fill(429));
    expect(Number(last!.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(last!.text).toMatch(/Too many wrong tokens came from your address\. Try again in \d+ seconds \(after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)\./);
    expect(last!.text).toContain('<form method="post" action="/login">');

    const right = `token=${ADMIN_TOKEN}`;
    expect((await from('203.0.113.10', 'POST', '/login', { body: right, contentType: 'application/x-www-form-urlencoded', origin: t.url })).status).toBe(429);
    // The admin API guesses the same token: the same address is refused there too, before the token is looked at.
    const api = await from('203.0.113.10', 'GET', '/api/v1/agents', { token: ADMIN_TOKEN });
    expect(api.status).toBe(429);
    expect(api.json?.error).toMatchObject({ code: 'BE_RATE_LIMITED', message: expect.stringMatching(/^too many wrong admin tokens from your address \(203\.0\.113\.10\); try again in \d+ s$/) });
    expect(Number(api.retryAfter)).toBe(api.json?.error.details?.retryAfterSeconds);

    const signedIn = await from('198.51.100.20', 'POST', '/login', { body: right, contentType: 'application/x-www-form-urlencoded', origin: t.url });
    expect(signedIn.status).toBe(303);
    expect((await from('198.51.100.21', 'GET', '/api/v1/agents', { token: ADMIN_TOKEN })).status).toBe(200);
  });

  it('limits wrong bearer tokens on the admin API the same way', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push((await from('203.0.113.11', 'GET', '/api/v1/agents', { token: `guess-${i}` })).status);
    expect(statuses).toEqual([...Array(10).fill(401), ...Array(5).fill(429)]);
    // No token at all is not a guess.
    expect((await from('203.0.113.12', 'GET', '/api/v1/agents')).status).toBe(401);
  });

  it('counts an IPv6 client by its /64, so a fresh address from the same block gains nothing', async () => {
    for (let i = 0; i < 10; i++) expect((await from(`2001:db8:aa:bb::${i + 1}`, 'GET', '/api/v1/agents', { token: 'guess' })).status).toBe(401);
    expect((await from('2001:db8:aa:bb:ffff::1', 'GET', '/api/v1/agents', { token: 'guess' })).status).toBe(429);
    expect((await from('2001:db8:aa:bc::1', 'GET', '/api/v1/agents', { token: ADMIN_TOKEN })).status).toBe(200);
  });
});

describe('guessing agent credentials', () => {
  it('answers 429 past the limit for wrong credentials, while a real agent at the same address is always let in', async () => {
    const statuses: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 40; i++) statuses.push((await from('192.0.2.50', 'POST', '/api/agent/v1/jobs/x/lease', { token: `bta_guess${i}`, body: '{"claimId":"cl_12345678"}' })).status);
    // 30 wrong guesses at once, then one more a second: however slow this machine is, no more 401s than that.
    const refilled = Math.ceil((Date.now() - started) / 1000);
    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(401));
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(30 + refilled);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10 - refilled);
    const real = await from('192.0.2.50', 'GET', '/api/agent/v1/jobs/next?wait=0', { token: web1.credential });
    expect(real.status).toBe(204);
  });
});

describe('an agent flooding its log', () => {
  it('gets 429 with Retry-After past its budget, then is refused before its body is read, while its lease renews', async () => {
    const agent = await t.enroll('flooder');
    const dep = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/shop', ref: 'main', environment: 'staging' } });
    expect(dep.status).toBe(201);
    const next = await t.call('GET', '/api/agent/v1/jobs/next?wait=5', { token: agent.credential });
    const jobId = next.json.job.id as string;
    expect((await t.call('POST', `/api/agent/v1/jobs/${jobId}/claim`, { token: agent.credential, body: { claimId: 'cl_flood001' } })).status).toBe(200);

    let seq = 0;
    const post = (n: number) => {
      const chunks = Array.from({ length: n }, () => ({ seq: ++seq, at: AT, stream: 'stdout', data: 'x' }));
      return from('192.0.2.60', 'POST', `/api/agent/v1/jobs/${jobId}/logs`, { token: agent.credential, body: JSON.stringify({ claimId: 'cl_flood001', chunks }) });
    };
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await post(500));
    expect(answers.slice(0, 4).map((a) => a.status)).toEqual([200, 200, 200, 200]);
    const refused = answers[4]!;
    expect(refused.status).toBe(429);
    expect(refused.json?.error).toMatchObject({ code: 'BE_RATE_LIMITED', message: expect.stringMatching(/^agent flooder posts log chunks faster than the hub takes them \(at most 200 log chunks and 1 MiB a second, bursts of 2000 and 8 MiB\); wait \d+ s \(Retry-After\) and send them again$/) });
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(refused.retryAfter)).toBe(refused.json?.error.details?.retryAfterSeconds);
    // While told to wait, even a malformed body is not read: the answer is 429, not 400.
    const unread = await from('192.0.2.60', 'POST', `/api/agent/v1/jobs/${jobId}/logs`, { token: agent.credential, body: '{"not json' });
    expect(unread.status).toBe(429);
    // Nothing past the refusal was stored: the agent resends from there.
    const view = await t.call('GET', `/api/v1/deployments/${dep.json.deployment.id}/servers/${jobId}`, { token: ADMIN_TOKEN });
    expect(view.json.server).toMatchObject({ logsAckedSeq: 2000 });
    // Its lease and its events are not part of the log budget.
    expect((await t.call('POST', `/api/agent/v1/jobs/${jobId}/lease`, { token: agent.credential, body: { claimId: 'cl_flood001' } })).status).toBe(200);
    const events = await t.call('POST', `/api/agent/v1/jobs/${jobId}/events`, { token: agent.credential, body: { claimId: 'cl_flood001', events: [{ seq: 1, at: AT, type: 'state', state: 'running' }] } });
    expect(events).toEqual({ status: 200, json: { ackedSeq: 1 } });
  });
});
