/**
 * The leader lease that makes periodic work run once across hub replicas: two "replicas" (two LeaderLeases, as two
 * processes would hold) on one store, with a clock the test moves; on SQLite and on PostgreSQL.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LEADER_KEY, LeaderLease, type LeaseRow } from '../../app/store/leader-lease.js';
import type { Store } from '../../app/store/store.js';
import { silentLogger } from '../../lib/logger.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  let store: Store;
  let now: number;
  const leases: LeaderLease[] = [];
  const changes: Array<[string, boolean]> = [];

  beforeEach(() => {
    store = stores.store;
    now = Date.parse('2026-12-05T10:00:00.000Z');
    changes.length = 0;
  });
  afterEach(async () => {
    for (const lease of leases.splice(0)) await lease.stop();
  });

  /** A replica's lease of 10 s; its own timer would renew every 3.3 s of real time, so the test renews by hand. */
  function replica(name: string): LeaderLease {
    const lease = new LeaderLease({ store, leaseMs: 10_000, log: silentLogger(), now: () => now, onChange: (leading) => changes.push([name, leading]) });
    leases.push(lease);
    return lease;
  }

  it('lets one replica lead; another takes over only once the leader stops renewing for a lease', async () => {
    const a = replica('a');
    const b = replica('b');
    expect(await a.start()).toEqual({ wasFree: true });
    expect(await b.start()).toEqual({ wasFree: false });
    expect([a.leading, b.leading]).toEqual([true, false]);
    expect((await store.get<LeaseRow>(LEADER_KEY))?.holder).toBe(a.holder);

    // a renews on time: b cannot take it.
    now += 4_000;
    await a.renewNow();
    now += 4_000;
    await b.renewNow();
    expect([a.leading, b.leading]).toEqual([true, false]);

    // a stops renewing (its process hangs or died): by its own clock it stops leading before the lease runs out, and
    // b takes the lease once it has.
    now += 8_000;
    expect(a.leading).toBe(false);
    await b.renewNow();
    expect([a.leading, b.leading]).toEqual([false, true]);
    // a wakes up and renews: the lease is b's now.
    await a.renewNow();
    expect([a.leading, b.leading]).toEqual([false, true]);
    // a says it no longer leads at its first tick after the lease ran out, whatever that tick's renewal finds.
    expect(changes).toEqual([
      ['a', true],
      ['b', true],
      ['a', false],
    ]);
  });

  it('says it no longer leads once its lease ran out while the store did not answer, and leads again once renewed', async () => {
    let cut = false;
    // The store as a replica whose connection to PostgreSQL is cut sees it: every renewal fails. (The lease uses only
    // update.)
    const update: Store['update'] = (key, fn) => (cut ? Promise.reject(new Error('Connection terminated unexpectedly')) : store.update(key, fn));
    const reachable = { update } as Store;
    const a = new LeaderLease({ store: reachable, leaseMs: 10_000, log: silentLogger(), now: () => now, onChange: (leading) => changes.push(['a', leading]) });
    leases.push(a);
    await a.start();
    cut = true;
    now += 3_000;
    await a.renewNow();
    expect(changes).toEqual([['a', true]]);
    // Past the lease (less its margin) without a renewal: the next tick says so, though no renewal succeeded.
    now += 6_000;
    await a.renewNow();
    expect(a.leading).toBe(false);
    expect(changes).toEqual([
      ['a', true],
      ['a', false],
    ]);
    cut = false;
    now += 2_000;
    await a.renewNow();
    expect(changes).toEqual([
      ['a', true],
      ['a', false],
      ['a', true],
    ]);
  });

  it('hands the lease back on stop, so another replica leads at its next renewal, without waiting a lease', async () => {
    const a = replica('a');
    const b = replica('b');
    await a.start();
    await b.start();
    await a.stop();
    expect(a.leading).toBe(false);
    await b.renewNow();
    expect(b.leading).toBe(true);
    expect(changes).toEqual([
      ['a', true],
      ['a', false],
      ['b', true],
    ]);
  });

  it('a hub alone on its store leads from the start and writes no lease', async () => {
    const alone = new LeaderLease({ store, leaseMs: 10_000, log: silentLogger(), alone: true });
    leases.push(alone);
    expect(await alone.start()).toEqual({ wasFree: true });
    expect(alone.leading).toBe(true);
    expect(await store.get(LEADER_KEY)).toBeUndefined();
    expect(changes).toEqual([]);
  });
});
