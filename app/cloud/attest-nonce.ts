/**
 * Hub nonces for cloud identity evidence: the challenge that makes a GCP identity token or Azure attested data fresh.
 * An agent asks for one, has its provider sign evidence containing it, and sends the evidence back; the hub spends
 * the nonce then. Each nonce is unguessable, works once, for a few minutes, and only for the agent that asked.
 *
 * Only the nonce's sha256 is a store key (like enrollment tokens): a store dump reveals no live nonce. Azure's IMDS
 * takes a 10-digit nonce, so Azure nonces are 10 random digits (33 bits; enough for a single-use, agent-bound,
 * minutes-long challenge: a replay needs the hub to hand the same agent the same nonce again); others are 128-bit.
 *
 * @example
 * const { nonce } = await issueNonce(store, agent.id, { provider: 'gcp' });
 * // … later, with the evidence:
 * const refusal = await consumeNonce(store, nonce, agent.id); // undefined = spent now, go on
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { CloudProvider } from './cloud-instance.js';
import type { Refusal } from './attest-refusal.js';

export interface NonceRecord {
  agentId: string;
  issuedAt: string;
  expiresAt: string;
  /** Set when spent; the record stays a while so a second use is told "already used", not "unknown". */
  usedAt?: string;
}

export const DEFAULT_NONCE_TTL_MS = 5 * 60_000;
/** How long a spent or expired nonce is remembered, to explain a late or second use. */
const REMEMBER_MS = 15 * 60_000;
const NONCE = /^[A-Za-z0-9_-]{10,64}$/;

/** Store keys of this module (model.ts `keys` style; kept here so cloud attestation stays one folder). */
export const nonceKeys = {
  nonce: (hash: string) => `attest-nonce:${hash}`,
} as const;

/** A new nonce for `agentId`. */
export async function issueNonce(
  store: Store,
  agentId: string,
  options: { provider?: CloudProvider; ttlMs?: number; now?: number } = {},
): Promise<{ nonce: string; expiresAt: string }> {
  const now = options.now ?? Date.now();
  const ttlMs = options.ttlMs ?? DEFAULT_NONCE_TTL_MS;
  const record: NonceRecord = { agentId, issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + ttlMs).toISOString() };
  // A 10-digit nonce can collide with a live one; never hand out a nonce another agent holds.
  for (let attempt = 0; attempt < 5; attempt++) {
    const nonce = options.provider === 'azure' ? String(randomInt(0, 10_000_000_000)).padStart(10, '0') : randomBytes(16).toString('base64url');
    const key = nonceKeys.nonce(hashNonce(nonce));
    let created = false;
    await store.update<NonceRecord>(key, (current) => {
      if (current) return undefined;
      created = true;
      return record;
    });
    if (!created) continue;
    // `update` cannot set a TTL: write it again with one so the store forgets the nonce on its own.
    await store.set(key, record, ttlMs + REMEMBER_MS);
    return { nonce, expiresAt: record.expiresAt };
  }
  throw new Error('could not find an unused nonce in 5 attempts');
}

/**
 * Spends `nonce` for `agentId`: undefined when it was valid (and is now used), else why it cannot be used. Atomic:
 * of two requests racing with one nonce, exactly one gets undefined.
 */
export async function consumeNonce(store: Store, nonce: unknown, agentId: string, now = Date.now()): Promise<Refusal | undefined> {
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) return wrongNonce('no hub nonce was sent with the evidence (or it is not one the hub makes)');
  const key = nonceKeys.nonce(hashNonce(nonce));
  let problem: string | undefined;
  const spent = await store.update<NonceRecord>(key, (record) => {
    if (!record) problem = 'the nonce is unknown to this hub (never issued, or expired long ago)';
    else if (record.usedAt) problem = `the nonce was already used at ${record.usedAt}; each nonce works once`;
    else if (record.agentId !== agentId) problem = 'the nonce was issued to another agent; an agent can only use a nonce it asked for';
    else if (Date.parse(record.expiresAt) <= now) problem = `the nonce expired at ${record.expiresAt} (nonces live ${Math.round((Date.parse(record.expiresAt) - Date.parse(record.issuedAt)) / 1000)} s)`;
    else return { ...record, usedAt: new Date(now).toISOString() };
    return undefined;
  });
  if (problem) return wrongNonce(problem);
  await store.set(key, spent, REMEMBER_MS);
  return undefined;
}

function wrongNonce(problem: string): Refusal {
  return { reason: 'wrong-nonce', message: `${problem}; ask the hub for a new nonce right before fetching the evidence from the metadata service` };
}

function hashNonce(nonce: string): string {
  return createHash('sha256').update(nonce).digest('hex');
}
