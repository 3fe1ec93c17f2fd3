/**
 * The budget of content-creating requests per installation: first come, first served in one process, and one budget
 * for all hub replicas when they share a store (two stores on one database stand for two replicas), on both backends.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PostRateLimit } from '../../app/github/post-rate-limit.js';
import type { Store } from '../../app/store/store.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const backendStores = useStoreBackend(backend);
  let stores: Store[];
  let other: Store;
  beforeEach(async () => {
    other = await backendStores.open();
    stores = [backendStores.store, other];
  });
  afterEach(async () => {
    await other.close();
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
});
