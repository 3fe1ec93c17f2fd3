/**
 * What verifying an agent's cloud identity evidence can answer: the identity it proves, or one refusal that says what
 * was wrong and how to fix it. Verifiers return these instead of throwing so that every way evidence can be bad is a
 * value a test can compare, and so that the hub decides once how a refusal is answered ({@link refusalError}).
 *
 * @example
 * const result = verifyGcpIdentity(token, trust);
 * if (!result.ok) throw refusalError(result.refusal); // 403 `the token's audience is …`
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { ProvedIdentity } from './cloud-instance.js';

/** Why evidence was refused. Stable: tests, logs and the agent's retry logic key on it. */
export const REFUSAL_REASONS = [
  /** Not the shape the provider makes (bad base64, not JSON, not a JWT, not PKCS#7…). */
  'malformed',
  /** Signed, but not over these bytes: changed after signing. */
  'tampered',
  /** Signed by a key or certificate the hub does not trust for this provider. */
  'wrong-signer',
  /** A GCP token made for another audience. */
  'wrong-audience',
  /** The hub nonce is missing, unknown, someone else's, expired or already used. */
  'wrong-nonce',
  /** Past its expiry (or older than the hub accepts), or not valid yet. */
  'expired',
  /** Verified, but a field the hub needs (account, instance id, region…) is missing. */
  'incomplete',
  /** Older evidence than the hub already accepted for this instance. */
  'replayed',
  /** The instance is bound to another agent. */
  'already-bound',
  /** The agent is quarantined: it proved a different instance than the one it is bound to. */
  'quarantined',
  /** Evidence of a kind, algorithm or provider this hub is not configured for. */
  'unsupported',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface Refusal {
  reason: RefusalReason;
  /** A sentence for people: what was wrong, and how to fix it. */
  message: string;
}

export type Verified = { ok: true; identity: ProvedIdentity } | { ok: false; refusal: Refusal };

export function refuse(reason: RefusalReason, message: string): { ok: false; refusal: Refusal } {
  return { ok: false, refusal: { reason, message } };
}

/**
 * The error the hub answers a refusal with: a conflict over an instance is 409, anything wrong with the evidence is
 * 403 — not 401, which tells an agent that its own credential is no longer valid.
 */
export function refusalError(refusal: Refusal): BitEnvoyError {
  const conflict = refusal.reason === 'already-bound' || refusal.reason === 'quarantined';
  return new BitEnvoyError(conflict ? 'BE_CONFLICT' : 'BE_ATTESTATION_REFUSED', refusal.message, { details: { reason: refusal.reason } });
}
