import { describe, expect, it } from 'vitest';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);

  it('round-trips JSON values and deletes them', async () => {
    const { store } = stores;
    await store.set('agent:1', { name: 'web-1', labels: { role: 'web' } });
    expect(await store.get('agent:1')).toEqual({ name: 'web-1', labels: { role: 'web' } });
    expect(await store.delete('agent:1')).toBe(true);
    expect(await store.get('agent:1')).toBeUndefined();
    expect(await store.delete('agent:1')).toBe(false);
  });

  it('expires values after their TTL', async () => {
    const { store } = stores;
    await store.set('token', 'x', 50);
    expect(await store.get('token')).toBe('x');
    await new Promise((r) => setTimeout(r, 80));
    expect(await store.get('token')).toBeUndefined();
  });

  it('lists by prefix in key order and nothing else', async () => {
    const { store } = stores;
    for (const seq of [3, 1, 2]) await store.set(`log:job_a:${String(seq).padStart(9, '0')}`, seq);
    await store.set('log:job_b:000000001', 99);
    await store.set('agent:1', {});
    expect((await store.list('log:job_a:')).map((e) => e.value)).toEqual([1, 2, 3]);
  });

  it('loses no update when many run at once on one key', async () => {
    const { store } = stores;
    await Promise.all(Array.from({ length: 100 }, () => store.update<number>('counter', (n) => (n ?? 0) + 1)));
    expect(await store.get('counter')).toBe(100);
    // Returning undefined leaves the value as it was.
    expect(await store.update<number>('counter', () => undefined)).toBe(100);
  });

  it('keeps everything across a reopen, and sees writes from another connection to the same store', async () => {
    await stores.store.set('deployment:1', { state: 'queued' });
    const other = await stores.open();
    await other.set('enroll-token:abc', { createdBy: 'cli' });
    await other.close();
    expect(await stores.store.get('enroll-token:abc')).toEqual({ createdBy: 'cli' });
    await stores.store.close();
    const again = await stores.open();
    expect(await again.get('deployment:1')).toEqual({ state: 'queued' });
  });
});
