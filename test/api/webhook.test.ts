/**
 * The webhook endpoint of a real hub in GitHub mode: a correctly signed delivery is accepted; a forged one is
 * refused — a huge one early, without the hub reading (or keeping) more than the 25 MiB cap, and never a byte of
 * any forged body in the hub's log, which here records everything down to `trace`.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../../app/hub.js';
import { readHubSettings } from '../../app/hub-settings.js';
import { startGitHttpServer, type GitHttpServer } from '../../testbed/git-http-server.js';
import { createBareRepo } from '../../testbed/git-repos.js';
import { SAMPLE_REPOSITORY, sampleAppFiles, sampleConfigFiles } from '../../testbed/sample-app.js';
import { streamUpload } from './stream-upload.js';

const SECRET = 'webhook-secret-for-tests';
const MiB = 1024 * 1024;
/** GitHub's cap on a delivery, which the hub applies. */
const MAX_WEBHOOK_BYTES = 25 * MiB;
// GitHub's own example payloads (the package ships them as one JSON index).
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{ name: string; examples: unknown[] }>;
const pushEvent = examples.find((e) => e.name === 'push')!.examples[0];
/** What every forged body is made of: it must never show up in the log. */
const MARKER = 'FORGED-BODY-MARKER-';

let root: string;
let git: GitHttpServer;
let hub: RunningHub;
let url: string;
const logLines: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-webhook-'));
  await mkdir(join(root, 'git'));
  git = await startGitHttpServer({ root: join(root, 'git') });
  await createBareRepo(join(root, 'git'), SAMPLE_REPOSITORY, sampleAppFiles('1'));
  await createBareRepo(join(root, 'git'), 'bitenvoy/.bitenvoy', await sampleConfigFiles(`${git.url}/${SAMPLE_REPOSITORY}.git`));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const settings = readHubSettings({
    HOST: '127.0.0.1',
    PORT: '0',
    BITENVOY_DATA_DIR: join(root, 'hub'),
    BITENVOY_ADMIN_TOKEN: 'test-admin-token',
    BITENVOY_CONFIG_REPO: `${git.url}/bitenvoy/.bitenvoy.git`,
    APP_ID: '123',
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: SECRET,
  });
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  hub = await startHub(settings, { log: pino({ level: 'trace' }, capture) });
  url = `${hub.url.replace('localhost', '127.0.0.1')}/api/github/webhooks`;
});
afterAll(async () => {
  await hub?.close();
  await git?.close();
  await rm(root, { recursive: true, force: true });
});

const headers = (signature: string, event = 'push') => ({
  'content-type': 'application/json',
  'x-github-event': event,
  'x-github-delivery': `d-${Math.random().toString(36).slice(2)}`,
  'x-hub-signature-256': signature,
});
const sign = (body: string) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
const FORGED_SIGNATURE = `sha256=${'0'.repeat(64)}`;

async function deliver(body: string, signature: string, extra: Record<string, string> = {}): Promise<{ status: number; json: { error?: { code: string; message: string } } | undefined; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { ...headers(signature), ...extra }, body });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text) as { error?: { code: string; message: string } };
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** Samples this process's (the hub's) memory while `work` runs; answers the largest growth seen, in MiB. */
async function peakGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growthMiB: number }> {
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const before = used();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, used())), 5);
  try {
    const result = await work();
    peak = Math.max(peak, used());
    return { result, growthMiB: Math.round((peak - before) / MiB) };
  } finally {
    clearInterval(timer);
  }
}

describe('webhook deliveries', () => {
  it('accepts a signed delivery', async () => {
    // Whitespace matters to the signature: the handler must see the body byte for byte.
    const body = JSON.stringify(pushEvent, null, 2);
    expect((await deliver(body, sign(body))).status).toBe(200);
  });

  it('refuses a forged 100 MiB body streamed without a length with 413 once it passes the cap, and cuts the upload', async () => {
    const { result, growthMiB } = await peakGrowth(() =>
      streamUpload(url, { headers: headers(FORGED_SIGNATURE), totalBytes: 100 * MiB, fill: MARKER }),
    );
    console.log(`forged 100 MiB, chunked: answered ${result.status} after ${Math.round(result.sentWhenAnswered / MiB)} MiB sent; upload cut: ${result.cut} after ${Math.round(result.sent / MiB)} MiB; hub memory grew ≤ ${growthMiB} MiB`);
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body)).toMatchObject({ error: { code: 'BE_BODY_TOO_LARGE', message: expect.stringMatching(/at most 26214400 bytes/) } });
    expect(result.sentWhenAnswered).toBeLessThan(MAX_WEBHOOK_BYTES + 16 * MiB);
    expect(result.cut).toBe(true);
    expect(result.sent).toBeLessThan(60 * MiB);
    expect(growthMiB).toBeLessThan(60);
  });

  it('refuses a forged body that declares 100 MiB before reading any of it', async () => {
    const result = await streamUpload(url, { headers: headers(FORGED_SIGNATURE), totalBytes: 100 * MiB, declareLength: true, fill: MARKER });
    console.log(`forged 100 MiB, declared: answered ${result.status} after ${(result.sentWhenAnswered / MiB).toFixed(1)} MiB sent, ${result.ms} ms; upload cut: ${result.cut} after ${Math.round(result.sent / MiB)} MiB`);
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body).error.code).toBe('BE_BODY_TOO_LARGE');
    expect(result.sentWhenAnswered).toBeLessThan(16 * MiB);
    expect(result.cut).toBe(true);
  });

  it('refuses a forged body under the cap with 401 and the envelope', async () => {
    const body = JSON.stringify({ ...(pushEvent as object), note: MARKER.repeat(50_000) });
    const res = await deliver(body, FORGED_SIGNATURE);
    expect(res.status).toBe(401);
    expect(res.json?.error).toMatchObject({ code: 'BE_SIGNATURE_INVALID', message: expect.stringMatching(/does not match the body/) });
    // Signed with another secret: the same.
    const other = `sha256=${createHmac('sha256', 'another-secret').update(body).digest('hex')}`;
    expect((await deliver(body, other)).json?.error?.code).toBe('BE_SIGNATURE_INVALID');
  });

  it('refuses what is not a signed JSON delivery before reading the body', async () => {
    const body = `{"marker":"${MARKER}"}`;
    const malformed = await deliver(body, 'sha1=abc');
    expect(malformed.status).toBe(401);
    expect(malformed.json?.error).toMatchObject({ code: 'BE_SIGNATURE_INVALID', message: expect.stringMatching(/not of the form/) });
    const noHeaders = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(noHeaders.status).toBe(400);
    expect(((await noHeaders.json()) as { error: { message: string } }).error.message).toMatch(/x-github-event, x-hub-signature-256, x-github-delivery are missing/);
    const form = await deliver(body, sign(body), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(form.json?.error?.code).toBe('BE_UNSUPPORTED_MEDIA_TYPE');
    const get = await fetch(url);
    expect(get.status).toBe(405);
    expect(((await get.json()) as { error: { code: string } }).error.code).toBe('BE_METHOD_NOT_ALLOWED');
  });

  it('answers a signed body that is not JSON, or nests absurdly deep, with 400', async () => {
    for (const body of [`not json ${MARKER}`, `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`, '[1,2]']) {
      const res = await deliver(body, sign(body));
      expect(res.status).toBe(400);
      expect(res.json?.error?.code).toBe('BE_BAD_REQUEST');
    }
  });

  it('has not written a byte of any forged body to the log, and logged each refusal with its delivery id', async () => {
    const log = logLines.join('');
    expect(log).not.toContain(MARKER);
    expect(log).not.toContain(MARKER.slice(0, 8));
    const refusals = logLines.filter((l) => l.includes('webhook delivery refused')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(refusals.filter((r) => r.code === 'BE_SIGNATURE_INVALID' && /^d-/.test(String(r.delivery))).length).toBeGreaterThanOrEqual(3);
    expect(refusals.filter((r) => r.code === 'BE_BODY_TOO_LARGE' && /^d-/.test(String(r.delivery)))).toHaveLength(2);
    // The hub still answers, and says it is in GitHub mode.
    expect(((await (await fetch(url.replace('/api/github/webhooks', '/healthz'))).json()) as { mode: string }).mode).toBe('github');
  });
});
