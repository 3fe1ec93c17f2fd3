/**
 * The shared candidates of automatic deploys (auto-pending.ts) on both store backends, with a clock the test moves:
 * the evaluation claim and its expiry, what an evaluation leaves (and what an event during it keeps), the due list the
 * leader sweeps, and the compare-and-set mark of a deployed commit.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  claimEvaluation,
  finishEvaluation,
  listDuePending,
  markDeployed,
  pendingKey,
  postponeEvaluation,
  releaseEvaluation,
  unmarkDeployed,
  type PendingCommit,
} from '../../app/github/auto-pending.js';
import type { Store } from '../../app/store/store.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

const REPO = 'acme/shop';
const KEY = pendingKey(REPO, 'a'.repeat(40));
const T0 = Date.parse('2026-12-05T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function pending(dueAt: number): PendingCommit {
  return {
    repository: { fullName: REPO, owner: 'acme', name: 'shop', cloneUrl: 'https://github.com/acme/shop.git' },
    installationId: 1,
    sha: 'a'.repeat(40),
    firstSeenAt: iso(T0),
    envs: { staging: { branch: 'main', deadline: iso(T0 + 3600_000) }, production: { branch: 'main', deadline: iso(T0 + 1800_000) } },
    dueAt: iso(dueAt),
  };
}

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  let store: Store;
  beforeEach(() => {
    store = stores.store;
  });

  it('lets one evaluator claim a due commit; another takes it over only once the claim runs out', async () => {
    await store.set(KEY, pending(T0 + 5000));
    expect(await claimEvaluation(store, KEY, { by: 'a', now: T0, claimMs: 1000 })).toEqual({ state: 'not-due', at: T0 + 5000 });
    expect((await claimEvaluation(store, KEY, { by: 'a', now: T0 + 5000, claimMs: 1000 })).state).toBe('claimed');
    expect(await claimEvaluation(store, KEY, { by: 'b', now: T0 + 5500, claimMs: 1000 })).toEqual({ state: 'busy', until: T0 + 6000 });
    expect(await listDuePending(store, T0 + 5500, T0 + 5500)).toEqual([]);
    // a died: its claim runs out, and the commit is due and free again.
    expect(await listDuePending(store, T0 + 6001, T0 + 6001)).toEqual([KEY]);
    expect((await claimEvaluation(store, KEY, { by: 'b', now: T0 + 6001, claimMs: 1000 })).state).toBe('claimed');
    // A hub alone on its store takes over a stopped run's claim at once; forced, a commit not due yet is evaluated.
    expect((await claimEvaluation(store, KEY, { by: 'c', now: T0 + 6002, claimMs: 1000, alone: true })).state).toBe('claimed');
    await store.set(KEY, pending(T0 + 9000));
    expect((await claimEvaluation(store, KEY, { by: 'c', now: T0, claimMs: 1000, force: true })).state).toBe('claimed');
    expect(await claimEvaluation(store, pendingKey(REPO, 'b'.repeat(40)), { by: 'a', now: T0, claimMs: 1000 })).toEqual({ state: 'gone' });
  });

  it('keeps what still waits, due at its deadline, and deletes the commit once nothing does', async () => {
    await store.set(KEY, pending(T0));
    const claimed = await claimEvaluation(store, KEY, { by: 'a', now: T0, claimMs: 1000 });
    const claimedDue = claimed.state === 'claimed' ? claimed.pending.dueAt : 'none';
    const left = { production: pending(T0).envs.production! };
    expect(await finishEvaluation(store, KEY, 'a', { claimedDue, left, settled: ['staging'], nextDueAt: T0 + 1800_000 })).toBe(T0 + 1800_000);
    expect(await store.get(KEY)).toEqual({ ...pending(T0 + 1800_000), envs: left });
    await claimEvaluation(store, KEY, { by: 'a', now: T0 + 1800_000, claimMs: 1000 });
    expect(await finishEvaluation(store, KEY, 'a', { claimedDue: iso(T0 + 1800_000), left: {}, settled: ['production'], nextDueAt: undefined })).toBeUndefined();
    expect(await store.get(KEY)).toBeUndefined();
  });

  it('keeps the environments not decided for good when an event came during the evaluation, due at its debounce', async () => {
    await store.set(KEY, pending(T0));
    await claimEvaluation(store, KEY, { by: 'a', now: T0, claimMs: 1000 });
    // A check re-run on the commit, seen by another replica while a reads the checks (staging looked red to a).
    expect(await postponeEvaluation(store, KEY, T0 + 5000)).toBe(true);
    expect(await finishEvaluation(store, KEY, 'a', { claimedDue: iso(T0), left: {}, settled: ['production'], nextDueAt: undefined })).toBe(T0 + 5000);
    const after = await store.get<PendingCommit>(KEY);
    expect(after).toEqual({ ...pending(T0 + 5000), envs: { staging: pending(T0).envs.staging } });
    // A failed evaluation lets the claim go: due again at the retry, or at an event's debounce when sooner.
    await claimEvaluation(store, KEY, { by: 'a', now: T0 + 5000, claimMs: 1000 });
    await releaseEvaluation(store, KEY, 'a', { claimedDue: iso(T0 + 5000), retryAt: T0 + 65_000 });
    expect(await store.get(KEY)).toEqual({ ...after, dueAt: iso(T0 + 65_000) });
    expect(await postponeEvaluation(store, pendingKey(REPO, 'b'.repeat(40)), T0)).toBe(false);
  });

  it('marks a commit deployed to an environment once, and unmarks only that commit', async () => {
    expect(await markDeployed(store, REPO, 'production', 'a'.repeat(40))).toBe(true);
    expect(await markDeployed(store, REPO, 'production', 'a'.repeat(40))).toBe(false);
    await unmarkDeployed(store, REPO, 'production', 'b'.repeat(40));
    expect(await markDeployed(store, REPO, 'production', 'a'.repeat(40))).toBe(false);
    await unmarkDeployed(store, REPO, 'production', 'a'.repeat(40));
    expect(await markDeployed(store, REPO, 'production', 'a'.repeat(40))).toBe(true);
  });
});
