/**
 * Compute Engine identity tokens, signed in the test by an RSA key published in a JWKS like Google's: the valid token
 * proves its instance; a changed token, another key, another audience or nonce, an expired or missing claim is refused.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { gcpAudience, readJwks, regionOfZone, verifyGcpIdentity, type GcpTrust } from '../../app/cloud/attest-gcp.js';
import type { RefusalReason } from '../../app/cloud/attest-refusal.js';
import { BitEnvoyError } from '../../lib/errors.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const HUB = 'https://hub.example/bitenvoy';
const AUDIENCE = gcpAudience(HUB, 'n0nce-abc');

const google = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** The hub's configuration: Google's JWKS as saved from its certs URL (here: two keys, as Google publishes). */
const jwks = JSON.stringify({
  keys: [
    { ...google.publicKey.export({ format: 'jwk' }), kid: 'google-1', alg: 'RS256', use: 'sig' },
    { ...rotated.publicKey.export({ format: 'jwk' }), kid: 'google-2', alg: 'RS256', use: 'sig' },
  ],
});
const trust: GcpTrust = { keys: readJwks(jwks, 'BITENVOY_GCP_JWKS') };

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(NOW / 1000) - 30;
  return {
    aud: AUDIENCE,
    azp: '1122334455',
    email: '1122334455-compute@developer.gserviceaccount.com',
    exp: iat + 3600,
    iat,
    iss: 'https://accounts.google.com',
    sub: '1122334455',
    google: {
      compute_engine: {
        instance_creation_timestamp: 1764000000,
        instance_id: '4567890123456789012',
        instance_name: 'web-1',
        project_id: 'shop-prod',
        project_number: 998877665544,
        zone: 'europe-west1-b',
      },
    },
    ...overrides,
  };
}

function jwt(payload: Record<string, unknown>, options: { key?: KeyObject; kid?: string; alg?: string } = {}): string {
  const header = { alg: options.alg ?? 'RS256', kid: options.kid ?? 'google-1', typ: 'JWT' };
  const encoded = `${b64url(header)}.${b64url(payload)}`;
  const signature = sign('sha256', Buffer.from(encoded), options.key ?? google.privateKey).toString('base64url');
  return `${encoded}.${signature}`;
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('verifyGcpIdentity', () => {
  it('proves the instance, with its region derived from the zone', () => {
    expect(verifyGcpIdentity(jwt(claims()), trust, { audience: AUDIENCE, now: NOW })).toEqual({
      ok: true,
      identity: {
        provider: 'gcp',
        account: 'shop-prod',
        instanceId: '4567890123456789012',
        zone: 'europe-west1-b',
        region: 'europe-west1',
        issuedAt: new Date(Math.floor(NOW / 1000) * 1000 - 30_000).toISOString(),
      },
    });
  });

  it('accepts a token signed by any configured Google key (rotation)', () => {
    expect(verifyGcpIdentity(jwt(claims(), { key: rotated.privateKey, kid: 'google-2' }), trust, { audience: AUDIENCE, now: NOW }).ok).toBe(true);
  });

  it.each<[string, () => string, RefusalReason, RegExp]>([
    ['a payload changed after signing', () => swapPayload(jwt(claims()), claims({ google: { compute_engine: { project_id: 'other', zone: 'europe-west1-b', instance_id: '1' } } })), 'tampered', /does not verify with Google's key google-1: the token was changed after signing, or forged/],
    ['one signature byte flipped', () => flipSignatureByte(jwt(claims())), 'tampered', /signature does not verify/],
    ['a key id Google does not have', () => jwt(claims(), { key: stranger.privateKey, kid: 'mine' }), 'wrong-signer', /key id "mine".*refresh the hub's copy/],
    ['a stranger\'s key under Google\'s key id', () => jwt(claims(), { key: stranger.privateKey }), 'tampered', /or forged/],
    ['alg none', () => `${b64url({ alg: 'none', kid: 'google-1' })}.${b64url(claims())}.AAAA`, 'unsupported', /only Google's RS256/],
    ['an empty signature', () => `${b64url({ alg: 'none', kid: 'google-1' })}.${b64url(claims())}.`, 'malformed', /signature is not valid base64url/],
    ['HS256 (key confusion)', () => jwt(claims(), { alg: 'HS256' }), 'unsupported', /"HS256" is not accepted/],
    ['another issuer', () => jwt(claims({ iss: 'https://evil.example' })), 'wrong-signer', /issuer "https:\/\/evil.example"/],
    ['another audience', () => jwt(claims({ aud: 'https://other.example' })), 'wrong-audience', /audience "https:\/\/other.example" is not the one the hub expects/],
    ['another nonce in the audience', () => jwt(claims({ aud: gcpAudience(HUB, 'old-nonce') })), 'wrong-audience', /nonce=old-nonce/],
    ['an audience list', () => jwt(claims({ aud: [AUDIENCE] })), 'wrong-audience', /audience/],
    ['an expired token', () => jwt(claims({ iat: NOW / 1000 - 7200, exp: NOW / 1000 - 3600 })), 'expired', /expired at 2026-11-25T11:00:00.000Z/],
    ['a token issued in the future', () => jwt(claims({ iat: NOW / 1000 + 600, exp: NOW / 1000 + 4200 })), 'expired', /issued in the future/],
    ['a token older than the hub accepts', () => jwt(claims({ iat: NOW / 1000 - 1800, exp: NOW / 1000 + 1800 })), 'expired', /more than 600 s ago/],
    ['no exp', () => jwt(claims({ exp: undefined })), 'expired', /no numeric iat and exp/],
    ['format=standard (no compute_engine claims)', () => jwt(claims({ google: undefined })), 'incomplete', /format=full/],
    ['no instance_id', () => jwt(claims({ google: { compute_engine: { project_id: 'shop-prod', zone: 'europe-west1-b' } } })), 'incomplete', /instance_id/],
    ['not a JWT', () => 'abc.def', 'malformed', /three dot-separated parts/],
    ['a header that is not base64url', () => `***.${b64url(claims())}.abc`, 'malformed', /header is not valid base64url/],
    ['a payload that is not JSON', () => `${b64url({ alg: 'RS256', kid: 'google-1' })}.${Buffer.from('nope').toString('base64url')}.abc`, 'malformed', /payload is not JSON/],
    ['a huge token', () => 'a'.repeat(9000), 'malformed', /longer than/],
  ])('refuses %s', (_name, token, reason, message) => {
    const result = verifyGcpIdentity(token(), trust, { audience: AUDIENCE, now: NOW });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.refusal.reason).toBe(reason);
    expect(result.refusal.message).toMatch(message);
  });

  it('tolerates a minute of clock skew, not more', () => {
    const token = jwt(claims({ iat: NOW / 1000 - 3600, exp: NOW / 1000 - 30 }));
    const lenient: GcpTrust = { ...trust, maxAgeMs: 2 * 3600_000 };
    expect(verifyGcpIdentity(token, lenient, { audience: AUDIENCE, now: NOW }).ok).toBe(true);
    expect(verifyGcpIdentity(token, lenient, { audience: AUDIENCE, now: NOW + 60_000 }).ok).toBe(false);
  });
});

describe('readJwks', () => {
  it.each([
    ['not JSON', '{', /not JSON/],
    ['no keys', '{"keys": []}', /no RSA signing key/],
    ['only encryption keys', JSON.stringify({ keys: [{ ...google.publicKey.export({ format: 'jwk' }), kid: 'e', use: 'enc' }] }), /no RSA signing key/],
    ['a broken key', JSON.stringify({ keys: [{ kty: 'RSA', kid: 'x', n: 'AQAB' }] }), /key x cannot be read/],
  ])('refuses a configuration with %s', (_name, text, message) => {
    expect(() => readJwks(text, 'BITENVOY_GCP_JWKS')).toThrow(BitEnvoyError);
    expect(() => readJwks(text, 'BITENVOY_GCP_JWKS')).toThrow(message);
  });
});

it.each([
  ['europe-west1-b', 'europe-west1'],
  ['us-central1-a', 'us-central1'],
  ['northamerica-northeast2-c', 'northamerica-northeast2'],
  ['weird', undefined],
])('regionOfZone(%s) = %s', (zone, region) => {
  expect(regionOfZone(zone)).toBe(region);
});

function swapPayload(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64url(payload)}.${signature}`;
}

function flipSignatureByte(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const bytes = Buffer.from(signature, 'base64url');
  bytes[10] ^= 0x01;
  return `${header}.${payload}.${bytes.toString('base64url')}`;
}
