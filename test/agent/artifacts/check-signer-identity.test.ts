/**
 * The identity check on shapes no CA we can make with openssl produces (openssl keeps one extension per OID, and
 * writes what its config says): a certificate naming two issuers, and a value that is not a UTF8String. The signer is
 * the plain data `@sigstore/verify` returns for a verified leaf; the end-to-end cases are in verify-provenance.test.ts.
 */
import { expect, test } from 'vitest';
import type { Signer } from '@sigstore/verify';
import { checkSignerIdentity } from '../../../agent/artifacts/check-signer-identity.js';
import { utf8StringDer } from '../../../testbed/sigstore-der.js';

const commit = 'c'.repeat(40);
const require = { repository: 'acme/shop', workflow: '.github/workflows/build.yml', commit, issuer: 'https://token.actions.githubusercontent.com' };

function signer(values: [number, Buffer][]): Signer {
  return {
    key: undefined as unknown as Signer['key'],
    identity: { oids: values.map(([arc, value]) => ({ oid: { id: [1, 3, 6, 1, 4, 1, 57264, 1, arc] }, value })) },
  };
}

const genuine: [number, Buffer][] = [
  [8, utf8StringDer(require.issuer)],
  [9, utf8StringDer('https://github.com/acme/shop/.github/workflows/build.yml@refs/heads/main')],
  [12, utf8StringDer('https://github.com/acme/shop')],
  [13, utf8StringDer(commit)],
];

test('the genuine identity passes', () => {
  expect(checkSignerIdentity(signer(genuine), require)).toEqual({
    signer: 'https://github.com/acme/shop/.github/workflows/build.yml@refs/heads/main',
    workflowRef: 'refs/heads/main',
    commit,
  });
});

test('a certificate naming two issuers proves neither', () => {
  const twice: [number, Buffer][] = [[8, utf8StringDer('https://token.evil.example')], ...genuine];
  expect(() => checkSignerIdentity(signer(twice), require)).toThrow('the certificate has 2 issuer extension (1.3.6.1.4.1.57264.1.8)');
});

test('a value that is not a DER UTF8String is refused', () => {
  const raw: [number, Buffer][] = genuine.map(([arc, value]) => (arc === 13 ? [arc, Buffer.from(commit)] : [arc, value]));
  expect(() => checkSignerIdentity(signer(raw), require)).toThrow('sourceRepositoryDigest extension (1.3.6.1.4.1.57264.1.13) is not a DER UTF8String');
  const printable: [number, Buffer][] = genuine.map(([arc, value]) => (arc === 13 ? [arc, Buffer.concat([Buffer.from([0x13, 40]), Buffer.from(commit)])] : [arc, value]));
  expect(() => checkSignerIdentity(signer(printable), require)).toThrow('is not a DER UTF8String');
});
