/**
 * Minting enrollment tokens: the token is shown once and only its hash is stored, with an expiry.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createEnrollToken, hashSecret } from '../../app/enroll/create-enroll-token.js';
import { keys, type EnrollTokenRecord } from '../../app/model.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-token-'));
  store = await openStore({ dataDir: dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

it('returns a bte_ token with its expiry and stores only the sha256', async () => {
  const before = Date.now();
  const { token, expiresAt } = await createEnrollToken(store, { ttlSeconds: 600, createdBy: 'cli' });
  expect(token).toMatch(/^bte_[A-Za-z0-9_-]{43}$/);
  const expires = Date.parse(expiresAt);
  expect(expires).toBeGreaterThanOrEqual(before + 600_000);
  expect(expires).toBeLessThanOrEqual(Date.now() + 600_000);

  const record = await store.get<EnrollTokenRecord>(keys.enrollToken(hashSecret(token)));
  expect(record).toMatchObject({ hash: hashSecret(token), expiresAt, createdBy: 'cli' });
  expect(record?.usedAt).toBeUndefined();
  await store.close();
  const raw = await readFile(join(dir, 'hub.sqlite'));
  const wal = await readFile(join(dir, 'hub.sqlite-wal')).catch(() => Buffer.alloc(0));
  expect(Buffer.concat([raw, wal]).includes(token.slice(4))).toBe(false);
  store = await openStore({ dataDir: dir });
});

it('defaults to one hour and never repeats a token', async () => {
  const a = await createEnrollToken(store, { createdBy: 'api' });
  const b = await createEnrollToken(store, { createdBy: 'api' });
  expect(a.token).not.toBe(b.token);
  expect(Math.round((Date.parse(a.expiresAt) - Date.now()) / 60_000)).toBe(60);
});

it('hashes as lowercase hex sha256', () => {
  expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});
