import { afterEach, beforeEach, expect, it } from 'vitest';
import { HubClient } from '../../agent/hub-client.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { silentLogger } from '../../lib/logger.js';
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
