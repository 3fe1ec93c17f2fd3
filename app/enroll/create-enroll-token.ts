import { hash, randomBytes } from 'node:crypto';
import { keys, type EnrollTokenRecord } from '../model.js';
import type { Store } from '../store/store.js';

/** sha256 in hex: how the hub keeps every token and credential (never the value itself). */
export function hashSecret(value: string): string {
  // The one-shot form: every agent request hashes its credential, and this is a fifth of createHash's cost.
  return hash('sha256', value);
}

/**
 * Mints a one-time, expiring enrollment token. Only its hash is stored; the token is returned once.
 *
 * @example
 * const { token, expiresAt } = await createEnrollToken(store, { ttlSeconds: 3600, createdBy: 'cli' });
 */
export async function createEnrollToken(store: Store, options: { ttlSeconds?: number; createdBy: string }): Promise<{ token: string; expiresAt: string }> {
  const token = `bte_${randomBytes(32).toString('base64url')}`;
  const now = Date.now();
  const record: EnrollTokenRecord = {
    hash: hashSecret(token),
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + (options.ttlSeconds ?? 3600) * 1000).toISOString(),
    createdBy: options.createdBy,
  };
  await store.set(keys.enrollToken(record.hash), record);
  return { token, expiresAt: record.expiresAt };
}
