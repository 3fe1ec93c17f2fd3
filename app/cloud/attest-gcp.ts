/**
 * Verifies a Compute Engine instance identity token: the JWT the metadata server returns from
 * `/computeMetadata/v1/instance/service-accounts/default/identity?audience=<aud>&format=full`, signed RS256 by Google.
 *
 * Freshness comes from the audience: the agent asks the hub for a nonce, asks the metadata server for a token whose
 * audience is {@link gcpAudience}(hub, nonce), and sends it; the hub spends the nonce (single use, bound to that agent,
 * minutes long — attest-nonce.ts) and accepts only a token for exactly that audience. A token copied from elsewhere,
 * or replayed, names another nonce or a spent one. `iat`/`exp` are checked too, with a little clock skew.
 *
 * Google's signing keys are configuration (a saved copy of https://www.googleapis.com/oauth2/v3/certs): the hub does
 * not fetch them, so an operator refreshes them when Google rotates (a token with an unknown `kid` says so).
 *
 * @example
 * const trust = { keys: readJwks(jwksText, 'BITENVOY_GCP_JWKS') };
 * verifyGcpIdentity(token, trust, { audience: gcpAudience('https://hub.example/bitenvoy', nonce) });
 */
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import type { ProvedIdentity } from './cloud-instance.js';
import { decodeBase64Url, EvidenceFormatError, objectField, parseJsonObject, safeId } from './attest-encoding.js';
import { refuse, type Verified } from './attest-refusal.js';

export const GOOGLE_ISSUER = 'https://accounts.google.com';
const MAX_TOKEN_CHARS = 8 * 1024;
const DEFAULT_SKEW_MS = 60_000;
/** Tokens live an hour; ours should be minutes old (the nonce lives minutes). */
const DEFAULT_MAX_AGE_MS = 10 * 60_000;
const REFETCH = 'ask the hub for a new nonce and fetch a new token from the metadata server (format=full)';

export interface GcpTrust {
  /** Google's RSA signing keys by key id. */
  keys: ReadonlyMap<string, KeyObject>;
  clockSkewMs?: number;
  /** Refuse tokens issued longer ago than this. */
  maxAgeMs?: number;
}

export interface GcpCheck {
  /** The exact audience the hub expects: {@link gcpAudience} of its URL and the nonce it issued. */
  audience: string;
  now?: number;
}

/** The audience an agent asks the metadata server for, carrying the hub nonce. */
export function gcpAudience(hubUrl: string, nonce: string): string {
  return `${hubUrl}?nonce=${encodeURIComponent(nonce)}`;
}

/** Google's JWKS (as saved from its certs URL) as keys by `kid`. Throws a usage error naming `where`. */
export function readJwks(text: string, where: string): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  let jwks: { keys?: unknown };
  try {
    jwks = JSON.parse(text) as { keys?: unknown };
  } catch {
    throw new BitEnvoyError('BE_USAGE', `${where}: not JSON; save the JSON from https://www.googleapis.com/oauth2/v3/certs as it is`);
  }
  for (const jwk of Array.isArray(jwks.keys) ? (jwks.keys as JsonWebKey[]) : []) {
    if (jwk.kty !== 'RSA' || typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
    try {
      keys.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
    } catch (err) {
      throw new BitEnvoyError('BE_USAGE', `${where}: key ${jwk.kid} cannot be read (${(err as Error).message})`);
    }
  }
  if (!keys.size) throw new BitEnvoyError('BE_USAGE', `${where}: no RSA signing key with a \`kid\` found; expected Google's JWKS ({"keys": [...]})`);
  return keys;
}

export function verifyGcpIdentity(token: string, trust: GcpTrust, check: GcpCheck): Verified {
  let parts: { header: Record<string, unknown>; claims: Record<string, unknown>; signed: Buffer; signature: Buffer };
  try {
    parts = splitJwt(token);
  } catch (err) {
    if (err instanceof EvidenceFormatError) return refuse('malformed', `GCP identity token: ${err.message}; ${REFETCH}`);
    throw err;
  }
  const { header, claims } = parts;
  if (header.alg !== 'RS256') return refuse('unsupported', `GCP identity token: algorithm ${JSON.stringify(header.alg)} is not accepted, only Google's RS256; ${REFETCH}`);
  const key = typeof header.kid === 'string' ? trust.keys.get(header.kid) : undefined;
  if (!key) {
    return refuse(
      'wrong-signer',
      `GCP identity token: signed with key id ${JSON.stringify(header.kid)}, which is not among Google's keys the hub is configured with: it was not made by Google, or Google rotated its keys — refresh the hub's copy of https://www.googleapis.com/oauth2/v3/certs`,
    );
  }
  if (!verify('sha256', parts.signed, key, parts.signature)) {
    return refuse('tampered', `GCP identity token: the signature does not verify with Google's key ${header.kid}: the token was changed after signing, or forged; ${REFETCH}`);
  }
  return checkClaims(claims, trust, check);
}

function splitJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown>; signed: Buffer; signature: Buffer } {
  if (typeof token !== 'string' || !token) throw new EvidenceFormatError('the token is missing');
  if (token.length > MAX_TOKEN_CHARS) throw new EvidenceFormatError(`the token is longer than ${MAX_TOKEN_CHARS} characters`);
  const segments = token.trim().split('.');
  if (segments.length !== 3) throw new EvidenceFormatError('not a JWT (expected three dot-separated parts)');
  const [header, claims, signature] = segments as [string, string, string];
  return {
    header: parseJsonObject(decodeBase64Url(header, 'the JWT header').toString('utf8'), 'the JWT header'),
    claims: parseJsonObject(decodeBase64Url(claims, 'the JWT payload').toString('utf8'), 'the JWT payload'),
    signed: Buffer.from(`${header}.${claims}`, 'ascii'),
    signature: decodeBase64Url(signature, 'the JWT signature'),
  };
}

function checkClaims(claims: Record<string, unknown>, trust: GcpTrust, check: GcpCheck): Verified {
  if (claims.iss !== GOOGLE_ISSUER) return refuse('wrong-signer', `GCP identity token: issuer ${JSON.stringify(claims.iss)} is not ${GOOGLE_ISSUER}; only Compute Engine identity tokens are accepted`);
  if (claims.aud !== check.audience) {
    return refuse('wrong-audience', `GCP identity token: audience ${JSON.stringify(claims.aud)} is not the one the hub expects (${check.audience}); request the token with exactly that audience — ${REFETCH}`);
  }
  const timing = checkTimes(claims, trust, check.now ?? Date.now());
  if (timing) return refuse('expired', `GCP identity token: ${timing}; ${REFETCH}`);
  const gce = objectField(objectField(claims, 'google'), 'compute_engine');
  const account = safeId(gce?.project_id);
  const instanceId = safeId(gce?.instance_id);
  const zone = safeId(gce?.zone);
  if (!account || !instanceId || !zone) {
    return refuse(
      'incomplete',
      'GCP identity token: no google.compute_engine project_id, zone and instance_id; request it with `format=full` from the metadata server of a Compute Engine VM',
    );
  }
  const identity: ProvedIdentity = { provider: 'gcp', account, instanceId, zone, issuedAt: new Date((claims.iat as number) * 1000).toISOString() };
  const region = regionOfZone(zone);
  if (region) identity.region = region;
  return { ok: true, identity };
}

/** Why the token's times are unacceptable now, or undefined. */
function checkTimes(claims: Record<string, unknown>, trust: GcpTrust, now: number): string | undefined {
  const { iat, exp } = claims;
  if (typeof iat !== 'number' || typeof exp !== 'number') return 'it has no numeric iat and exp';
  const skew = trust.clockSkewMs ?? DEFAULT_SKEW_MS;
  const maxAge = trust.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  if (now > exp * 1000 + skew) return `it expired at ${when(exp)}`;
  if (iat * 1000 > now + skew) return `it was issued in the future (${when(iat)}); check the hub's clock`;
  if (now - iat * 1000 > maxAge + skew) return `it was issued at ${when(iat)}, more than ${Math.round(maxAge / 1000)} s ago`;
  return undefined;
}

/** A JWT time for a message; absurd values (which `Date` cannot print) are shown as they are. */
function when(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? String(seconds) : date.toISOString();
}

/** `europe-west1-b` → `europe-west1`: GCP zones are their region plus a one-letter suffix. */
export function regionOfZone(zone: string): string | undefined {
  const match = /^([a-z]+(?:-[a-z]+)*\d+)-[a-z]$/.exec(zone);
  return match?.[1];
}
