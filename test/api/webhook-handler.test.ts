/**
 * The webhook handler on its own, with small limits: deliveries in flight together are bounded (503 with
 * Retry-After past the budget, which frees again), and what Probot's middleware gave is kept — a slow handler
 * answers 202 in time for GitHub, a failing one 500 with the envelope, logged with the delivery id.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Probot, ProbotOctokit } from 'probot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGitHubWebhookHandler, LogThrottle } from '../../app/github/webhook-handler.js';
import { streamUpload } from './stream-upload.js';

const SECRET = 'handler-secret';
const MiB = 1024 * 1024;
const lines: string[] = [];
/** What the handler told its `onDelivery` (the metrics' webhook deliveries). */
const deliveries: Array<[string | undefined, string]> = [];
let server: Server;
let url: string;

beforeAll(async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const log = pino({ level: 'trace' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
  const probot = new Probot({ appId: 1, privateKey, secret: SECRET, log, Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });
  const handle = await createGitHubWebhookHandler({
    probot,
    secret: SECRET,
    log,
    maxBytes: 4 * MiB,
    maxBytesInFlight: 6 * MiB,
    answerWithinMs: 200,
    onDelivery: (event, outcome) => deliveries.push([event, outcome]),
    appFn: (app) => {
      app.on('issues', async () => {
        throw new Error('the handler broke');
      });
      app.on('push', async (context) => {
        context.log.info('slow push handler started');
        await new Promise((resolve) => setTimeout(resolve, 600));
      });
    },
  });
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const sign = (body: string) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
const headers = (event: string, delivery: string, signature = `sha256=${'0'.repeat(64)}`) => ({ 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': delivery, 'x-hub-signature-256': signature });

async function deliver(event: string, delivery: string, payload: object): Promise<{ status: number; json: { ok?: boolean; error?: { code: string; message: string } } }> {
  const body = JSON.stringify(payload);
  const res = await fetch(url, { method: 'POST', headers: headers(event, delivery, sign(body)), body });
  return { status: res.status, json: (await res.json()) as { ok?: boolean; error?: { code: string; message: string } } };
}

it('refuses a delivery with 503 while others hold the in-flight budget, and takes deliveries again after', async () => {
  // A holds 3 MiB of its 3.5 MiB body for 1.5 s; B, arriving meanwhile, would take the bodies in flight past 6 MiB.
  const slow = streamUpload(url, { headers: headers('push', 'd-slow'), totalBytes: 3.5 * MiB, declareLength: true, stall: { bytes: 3 * MiB, ms: 1500 } });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const second = await streamUpload(url, { headers: headers('push', 'd-second'), totalBytes: 3.5 * MiB, declareLength: true });
  expect(second.status).toBe(503);
  expect(second.headers['retry-after']).toBe('5');
  expect(JSON.parse(second.body)).toMatchObject({ error: { code: 'BE_BUSY', details: { retryAfterSeconds: 5 } } });
  expect((await slow).status).toBe(401);
  // Both let their bytes go: a full-size delivery fits again.
  const third = await streamUpload(url, { headers: headers('push', 'd-third'), totalBytes: 3.5 * MiB, declareLength: true });
  expect(third.status).toBe(401);
});

it('answers 202 when handling takes longer than GitHub waits, and 500 with the envelope when a handler fails', async () => {
  deliveries.length = 0;
  const late = await deliver('push', 'd-late', { ref: 'refs/heads/main' });
  expect(late).toEqual({ status: 202, json: { ok: true, note: 'still processing' } });
  const broken = await deliver('issues', 'd-broken', { action: 'opened' });
  expect(broken.status).toBe(500);
  expect(broken.json.error).toEqual({ code: 'BE_INTERNAL', message: 'handling the webhook failed; the hub log has the details under this delivery id' });
  const ok = await deliver('ping', 'd-ping', { zen: 'Keep it logically awesome.' });
  expect(ok).toEqual({ status: 200, json: { ok: true } });
  await new Promise((resolve) => setTimeout(resolve, 700));
  const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  // Probot's per-delivery child logger: the handlers' lines and the failure carry the delivery id.
  expect(logged.find((l) => l.msg === 'slow push handler started')).toMatchObject({ id: 'd-late' });
  expect(logged.filter((l) => l.id === 'd-broken' && l.level === 50)).toHaveLength(1);
  // Each delivery's outcome, by its verified event name; a forged one is "unverified" whatever event it claims.
  const forged = await fetch(url, { method: 'POST', headers: headers('made_up_event', 'd-forged'), body: '{}' });
  expect(forged.status).toBe(401);
  expect(deliveries).toEqual([
    ['push', 'late'],
    ['issues', 'failed'],
    ['ping', 'handled'],
    [undefined, 'refused'],
  ]);
});

it('cuts a body that has not arrived within the time GitHub waits, so stalled forged uploads cannot hold the in-flight budget for long', async () => {
  // Unsigned senders that stall after most of their body would otherwise keep every GitHub delivery at 503 until
  // the server's request timeout (120 s); GitHub itself sends the whole body at once and gives up after 10 s.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const log = pino({ level: 'silent' });
  const probot = new Probot({ appId: 1, privateKey, secret: SECRET, log, Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });
  const handle = await createGitHubWebhookHandler({ probot, secret: SECRET, log, maxBytes: 4 * MiB, maxBytesInFlight: 6 * MiB, bodyWithinMs: 1000, appFn: () => undefined });
  const own = createServer(handle);
  await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
  const ownUrl = `http://127.0.0.1:${(own.address() as AddressInfo).port}/hooks`;
  try {
    // Two stalled uploads hold the whole 6 MiB budget.
    const stalled = [1, 2].map((n) => streamUpload(ownUrl, { headers: headers('push', `d-stalled-${n}`), totalBytes: 3.5 * MiB, declareLength: true, stall: { bytes: 3 * MiB, ms: 4000 } }));
    const body = JSON.stringify({ zen: 'Design for failure.' });
    const real = async () => (await fetch(ownUrl, { method: 'POST', headers: headers('ping', 'd-real', sign(body)), body })).status;
    // Once both hold their 3 MiB, GitHub's delivery is refused (their uploads start in processes of their own)…
    const since = Date.now();
    while ((await real()) !== 503) {
      expect(Date.now() - since).toBeLessThan(10_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // …but only until their bodies are overdue, long before their stall (4 s) ends.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await real()).toBe(200);
    for (const cut of await Promise.all(stalled)) {
      expect(cut.status).toBe(408);
      expect(cut.ms).toBeLessThan(4000);
      expect(JSON.parse(cut.body)).toMatchObject({ error: { code: 'BE_BAD_REQUEST', message: expect.stringContaining('within 1 s') } });
    }
  } finally {
    own.closeAllConnections();
    await new Promise((resolve) => own.close(resolve));
  }
});

describe('LogThrottle', () => {
  it('lets a few lines a minute through and counts the rest in one line when the minute ends', () => {
    let t = 0;
    const said: number[] = [];
    const lines = new LogThrottle(3, (n) => said.push(n), () => t);
    expect(Array.from({ length: 10 }, () => lines.allow())).toEqual([true, true, true, false, false, false, false, false, false, false]);
    t += 60_000;
    expect(lines.allow()).toBe(true);
    expect(said).toEqual([7]);
  });
});
