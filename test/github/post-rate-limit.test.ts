/**
 * The budget of content-creating requests per installation: first come, first served in one process, and one budget
 * for all hub replicas when they share a store (two stores on one SQLite file stand for two replicas).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { PostRateLimit } from '../../app/github/post-rate-limit.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let dir: string;
let stores: Store[];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-posts-'));
  stores = [await openStore({ dataDir: dir }), await openStore({ dataDir: dir })];
});
afterEach(async () => {
  for (const store of stores) await store.close();
  await rm(dir, { recursive: true, force: true });
});

it('gives two replicas sharing a store one budget: the limit holds for both together, per installation', async () => {
  const windowMs = 400;
  const [a, b] = stores.map((shared) => new PostRateLimit({ limit: 3, windowMs, sleep, shared }));
  const started = Date.now();
  const first = await Promise.all([a!.take(7), b!.take(7), a!.take(7)]);
  // Another installation has a budget of its own.
  (await b!.take(8)).done();
  for (const token of first) token.done();
  const answeredAt = Date.now();
  // The fourth, from either replica, waits until a token comes back: one window after its request was answered.
  const fourth = await b!.take(7);
  expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(windowMs - 50);
  fourth.done();
  expect(Date.now() - started).toBeLessThan(10_000);
});

it('takes a token given back (a request not made after all) at once', async () => {
  const [a, b] = stores.map((shared) => new PostRateLimit({ limit: 1, windowMs: 60_000, sleep, shared }));
  const token = await a!.take(7);
  token.giveBack();
  await sleep(50);
  const started = Date.now();
  (await b!.take(7)).done();
  expect(Date.now() - started).toBeLessThan(1_000);
});
