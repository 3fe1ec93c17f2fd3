import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-store-'));
  store = await openStore({ dataDir: dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

it('round-trips JSON values and deletes them', async () => {
  await store.set('agent:1', { name: 'web-1', labels: { role: 'web' } });
  expect(await store.get('agent:1')).toEqual({ name: 'web-1', labels: { role: 'web' } });
  expect(await store.delete('agent:1')).toBe(true);
  expect(await store.get('agent:1')).toBeUndefined();
  expect(await store.delete('agent:1')).toBe(false);
});

it('expires values after their TTL', async () => {
  await store.set('token', 'x', 50);
  expect(await store.get('token')).toBe('x');
  await new Promise((r) => setTimeout(r, 80));
  expect(await store.get('token')).toBeUndefined();
});

it('lists by prefix in key order and nothing else', async () => {
  for (const seq of [3, 1, 2]) await store.set(`log:job_a:${String(seq).padStart(9, '0')}`, seq);
  await store.set('log:job_b:000000001', 99);
  await store.set('agent:1', {});
  expect((await store.list('log:job_a:')).map((e) => e.value)).toEqual([1, 2, 3]);
});

it('loses no update when many run at once on one key', async () => {
  await Promise.all(Array.from({ length: 100 }, () => store.update<number>('counter', (n) => (n ?? 0) + 1)));
  expect(await store.get('counter')).toBe(100);
  // Returning undefined leaves the value as it was.
  expect(await store.update<number>('counter', () => undefined)).toBe(100);
});

it('keeps everything across a reopen, and sees writes from another connection to the same file', async () => {
  await store.set('deployment:1', { state: 'queued' });
  const other = await openStore({ dataDir: dir });
  await other.set('enroll-token:abc', { createdBy: 'cli' });
  await other.close();
  expect(await store.get('enroll-token:abc')).toEqual({ createdBy: 'cli' });
  await store.close();
  store = await openStore({ dataDir: dir });
  expect(await store.get('deployment:1')).toEqual({ state: 'queued' });
});
