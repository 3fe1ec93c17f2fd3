/** Locks: who holds them, global ones, expiry. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { activeLock, describeLock, releaseLock, takeLock } from '../../app/rollout/environment-locks.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-locks-'));
  store = await openStore({ dataDir: dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const T0 = Date.parse('2026-11-25T10:00:00Z');

it('a lock expires at its expiresAt, and then someone else can take it', async () => {
  const lock = { repository: 'acme/shop', environment: 'production', by: 'octocat', at: new Date(T0).toISOString(), expiresAt: new Date(T0 + 3600_000).toISOString() };
  expect((await takeLock(store, lock, T0)).taken).toBe(true);
  expect(await activeLock(store, 'acme/shop', 'production', T0 + 3599_000)).toEqual(lock);
  expect((await takeLock(store, { ...lock, by: 'hubot' }, T0 + 60_000)).taken).toBe(false);
  expect(await activeLock(store, 'acme/shop', 'production', T0 + 3600_000)).toBeUndefined();
  expect((await takeLock(store, { ...lock, by: 'hubot', expiresAt: undefined }, T0 + 3600_000)).taken).toBe(true);
  expect(describeLock((await activeLock(store, 'acme/shop', 'production', T0 + 3600_000))!)).toBe('`production` is locked by @hubot since 2026-11-25 10:00 UTC');
});

it('a global lock holds every environment until it is released; its holder may lock again', async () => {
  const global = { repository: 'acme/shop', by: 'octocat', reason: 'freeze', at: new Date(T0).toISOString() };
  await takeLock(store, global, T0);
  expect(await activeLock(store, 'acme/shop', 'staging', T0)).toEqual(global);
  expect(await activeLock(store, 'acme/other', 'staging', T0)).toBeUndefined();
  expect((await takeLock(store, { ...global, reason: 'longer freeze' }, T0)).taken).toBe(true);
  expect(describeLock((await activeLock(store, 'acme/shop', 'staging', T0))!)).toBe('every environment is locked (global lock) by @octocat since 2026-11-25 10:00 UTC: longer freeze');
  expect(await releaseLock(store, 'acme/shop', undefined)).toMatchObject({ by: 'octocat' });
  expect(await activeLock(store, 'acme/shop', 'staging', T0)).toBeUndefined();
});
