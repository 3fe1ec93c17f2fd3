import { afterEach, beforeEach, expect, it } from 'vitest';
import { backoffDelay, HubClient, MAX_RETRY_AFTER_MS, retryAfterMs } from '../../agent/hub-client.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { silentLogger } from '../../lib/logger.js';
import { version } from '../../lib/package-root.js';
import { FAKE_CREDENTIAL, jobSpec, startFakeHub, type FakeHub } from './fake-hub.js';

let hub: FakeHub;
beforeEach(async () => {
  hub = await startFakeHub();
});
afterEach(async () => hub.close());

const client = () => new HubClient({ hub: hub.url, credential: FAKE_CREDENTIAL, log: silentLogger(), backoff: { baseMs: 10, capMs: 40 } });

it('long-polls: undefined after the wait when there is no job, the job when one comes', async () => {
  expect(await client().nextJob(1)).toBeUndefined();
  const spec = jobSpec({ url: 'file:///x', sha: 'a'.repeat(40) });
  setTimeout(() => hub.offer(spec), 100);
  expect(await client().nextJob(1)).toEqual(spec);
});

it('says its version on its polls until one was answered (how the hub learns of an upgrade), and never again', async () => {
  let failures = 1;
  hub.fail.before = (_method, path) => (path.startsWith('/jobs/next') && failures-- > 0 ? 503 : undefined);
  const agent = client();
  expect(await agent.nextJob(0)).toBeUndefined();
  expect(await agent.nextJob(0)).toBeUndefined();
  const polls = hub.requests.filter((r) => r.path.startsWith('/jobs/next'));
  expect(polls.map((r) => [r.status, r.agentVersion])).toEqual([
    [503, version],
    [204, version],
    [204, undefined],
  ]);
});

it('retries 5xx with backoff until the hub answers', async () => {
  let failures = 4;
  hub.fail.before = () => (failures-- > 0 ? 503 : undefined);
  const spec = jobSpec({ url: 'file:///x', sha: 'a'.repeat(40) });
  hub.offer(spec);
  const claimed = await client().claim(spec.id, 'cl_1');
  expect(claimed.job.id).toBe(spec.id);
  expect(hub.requests.map((r) => r.status)).toEqual([503, 503, 503, 503, 200]);
});

it('retries network errors (a hub that is not there yet) and stops when aborted', async () => {
  const down = new HubClient({ hub: 'http://127.0.0.1:1', credential: 'x', log: silentLogger(), backoff: { baseMs: 10, capMs: 40 } });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('stopping')), 300);
  const started = Date.now();
  await expect(down.nextJob(1, controller.signal)).rejects.toThrow('stopping');
  expect(Date.now() - started).toBeGreaterThanOrEqual(250);
});

it('does not retry 4xx: they come back as BitEnvoyErrors with the hub code, message and details', async () => {
  const spec = jobSpec({ url: 'file:///x', sha: 'a'.repeat(40) });
  hub.offer(spec);
  await client().claim(spec.id, 'cl_1');
  const err = await client().claim(spec.id, 'cl_2').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BitEnvoyError);
  expect(err).toMatchObject({ code: 'BE_JOB_CLAIMED', status: 409, message: `job ${spec.id} was already claimed` });
  const gap = await client().sendEvents(spec.id, 'cl_1', [{ seq: 3, at: '', type: 'state', state: 'running' }]).catch((e: unknown) => e);
  expect(gap).toMatchObject({ code: 'BE_SEQ_GAP', details: { expectedSeq: 1 } });
  const unauthorized = await new HubClient({ hub: hub.url, credential: 'wrong', log: silentLogger() }).nextJob(0).catch((e: unknown) => e);
  expect(unauthorized).toMatchObject({ code: 'BE_UNAUTHORIZED', status: 401 });
  expect(hub.requests.filter((r) => r.status >= 400)).toHaveLength(3);
});

it('retries a 429 no sooner than its Retry-After says (header, or details.retryAfterSeconds), instead of failing', async () => {
  const spec = jobSpec({ url: 'file:///x', sha: 'a'.repeat(40) });
  hub.offer(spec);
  const limited = (headers: Record<string, string>, retryAfterSeconds?: number) => ({
    status: 429,
    headers,
    body: { error: { code: 'BE_RATE_LIMITED', message: 'too many requests', ...(retryAfterSeconds === undefined ? {} : { details: { retryAfterSeconds } }) } },
  });
  let answers = [limited({ 'retry-after': '1' }, 1), limited({}, 0.5)];
  hub.fail.before = () => answers.shift();
  const claimed = await client().claim(spec.id, 'cl_1');
  expect(claimed.job.id).toBe(spec.id);
  const [first, second, third] = [...hub.requests].sort((a, b) => a.at - b.at);
  expect([first!.status, second!.status, third!.status]).toEqual([429, 429, 200]);
  expect(second!.at - first!.at).toBeGreaterThanOrEqual(1000);
  expect(third!.at - second!.at).toBeGreaterThanOrEqual(500);

  // A request that is not retried (enrolment) reports the 429 with the hub's code.
  answers = [limited({ 'retry-after': '30' }, 30)];
  const err = await client().enroll({ token: 't', name: 'n', labels: {}, version: '0.0.0' }).catch((e: unknown) => e);
  expect(err).toMatchObject({ code: 'BE_RATE_LIMITED', status: 429, details: { retryAfterSeconds: 30 } });
});

it('reads Retry-After as seconds or an HTTP date, else details.retryAfterSeconds, and caps it', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  expect(retryAfterMs('2', undefined, now)).toBe(2000);
  expect(retryAfterMs(' 1.5 ', undefined, now)).toBe(1500);
  expect(retryAfterMs('Wed, 01 Jan 2025 00:00:07 GMT', undefined, now)).toBe(7000);
  expect(retryAfterMs('Tue, 31 Dec 2024 23:00:00 GMT', undefined, now)).toBe(0);
  expect(retryAfterMs(undefined, { retryAfterSeconds: 3 }, now)).toBe(3000);
  expect(retryAfterMs('soon', { retryAfterSeconds: 3 }, now)).toBe(3000);
  expect(retryAfterMs(undefined, { retryAfterSeconds: 'x' }, now)).toBeUndefined();
  expect(retryAfterMs('86400', undefined, now)).toBe(MAX_RETRY_AFTER_MS);
});

it('backs off between a minimum gap and a doubling window, capped, at random in between', () => {
  const backoff = { baseMs: 500, capMs: 30_000 };
  expect([0, 1, 2, 3, 10].map((attempt) => backoffDelay(backoff, attempt, () => 0))).toEqual([500, 500, 500, 500, 500]);
  expect([0, 1, 2, 3, 6, 7, 50].map((attempt) => backoffDelay(backoff, attempt, () => 1))).toEqual([500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
  expect(backoffDelay(backoff, 3, () => 0.5)).toBe(2250);
});
