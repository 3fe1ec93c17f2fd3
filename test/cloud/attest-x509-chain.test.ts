/**
 * Certificates as configuration, and path validation by OpenSSL's verifier: only configured roots are anchors, and
 * every CA on a path must keep its constraints (basic constraints, path length, name constraints, key usage).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPemCertificates, verifyCertificatePath } from '../../app/cloud/attest-x509-chain.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { TestPki, type Issued } from './test-pki.js';

let pki: TestPki;
let root: Issued;
let intermediate: Issued;
let leaf: Issued;
beforeAll(async () => {
  pki = await TestPki.create();
  root = pki.root('Chain Root');
  intermediate = pki.issue('Chain Intermediate', root, { ca: true });
  leaf = pki.issue('leaf.metadata.azure.com', intermediate, { dns: ['leaf.metadata.azure.com', 'other.example'] });
});
afterAll(() => pki.cleanup());

describe('readPemCertificates', () => {
  it('reads every certificate of a bundle, with text around them', () => {
    const bundle = `# roots\n${root.certPem}\nsome note\n${intermediate.certPem}`;
    expect(readPemCertificates(bundle, 'X').map((c) => c.fingerprint256)).toEqual([root.cert.fingerprint256, intermediate.cert.fingerprint256]);
  });

  it.each([
    ['nothing', '', /X: no PEM certificate found/],
    ['a broken certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', /X: certificate 1 cannot be read/],
  ])('refuses %s as configuration', (_name, text, message) => {
    expect(() => readPemCertificates(text, 'X')).toThrow(BitEnvoyError);
    expect(() => readPemCertificates(text, 'X')).toThrow(message);
  });
});

describe('verifyCertificatePath', () => {
  // Later than the moment the certificates were made (they are valid from then), on any day the test runs.
  const later = () => Date.now() + 60_000;
  const path = (cert: Issued, untrusted: Issued[], anchors: Issued[], at = later()) =>
    verifyCertificatePath(cert.cert, { anchors: anchors.map((c) => c.cert), untrusted: untrusted.map((c) => c.cert), at });

  it('accepts leaf → intermediate → root', async () => {
    expect(await path(leaf, [intermediate], [root])).toEqual({ ok: true });
  });

  it('stops at a pinned intermediate configured as a root, and at a signer that is itself a configured root', async () => {
    expect(await path(leaf, [], [intermediate])).toEqual({ ok: true });
    const selfSigned = pki.root('self.metadata.azure.com', { ca: false });
    expect(await path(selfSigned, [], [selfSigned])).toEqual({ ok: true });
  });

  it('refuses a leaf whose issuer is missing, or a look-alike issuer with the right name, without asking OpenSSL', async () => {
    expect(await path(leaf, [], [root])).toEqual({ problem: expect.stringMatching(/does not lead to a configured root/) });
    const impostor = pki.issue('Chain Intermediate', pki.root('Chain Root'), { ca: true });
    expect(await path(leaf, [impostor], [root])).toEqual({ problem: expect.stringMatching(/does not lead to a configured root/) });
  });

  it('refuses a path to a root that is not configured', async () => {
    expect(await path(leaf, [intermediate], [pki.root('Other Root')])).toEqual({ problem: expect.stringMatching(/OpenSSL's verifier refused .*unable to get local issuer certificate/) });
  });

  it('refuses a path through a certificate that is not a CA', async () => {
    // With a key usage that forbids signing certificates, Node's issuer check already says no.
    const notCa = pki.issue('Not a CA', root);
    const below = pki.issue('below.metadata.azure.com', notCa, { dns: ['below.metadata.azure.com'] });
    expect(await path(below, [notCa], [root])).toEqual({ problem: expect.stringMatching(/does not lead to a configured root/) });
    // Without one, basicConstraints cA=FALSE is OpenSSL's to catch.
    const plain = pki.issue('Plain End Entity', root, { keyUsage: null });
    const under = pki.issue('under.metadata.azure.com', plain, { dns: ['under.metadata.azure.com'] });
    expect(await path(under, [plain], [root])).toEqual({ problem: expect.stringMatching(/OpenSSL's verifier refused the certificate 1 above the signer \(CN = Plain End Entity\): invalid CA certificate/) });
  });

  it('refuses a CA below a CA whose path length is 0', async () => {
    const zero = pki.issue('Path Length 0 CA', root, { ca: true, pathLen: 0 });
    const sub = pki.issue('Sub CA', zero, { ca: true });
    const below = pki.issue('deep.metadata.azure.com', sub, { dns: ['deep.metadata.azure.com'] });
    expect(await path(below, [zero, sub], [root])).toEqual({ problem: expect.stringMatching(/path length constraint exceeded/) });
    // The same CA may issue end entities directly.
    expect(await path(pki.issue('ok.metadata.azure.com', zero, { dns: ['ok.metadata.azure.com'] }), [zero], [root])).toEqual({ ok: true });
  });

  it('holds name constraints of every CA on the path: a sub-CA cannot widen its parent\'s, nor escape them with a common name', async () => {
    const constrained = pki.issue('Constrained CA', root, { ca: true, nameConstraints: 'permitted;DNS:.example.org' });
    const widening = pki.issue('Widening CA', constrained, { ca: true, nameConstraints: 'permitted;DNS:.azure.com' });
    const viaSan = pki.issue('metadata.azure.com', widening, { dns: ['metadata.azure.com'] });
    const viaCn = pki.issue('metadata.azure.com', constrained);
    expect(await path(viaSan, [constrained, widening], [root])).toEqual({ problem: expect.stringMatching(/permitted subtree violation/) });
    expect(await path(viaCn, [constrained], [root])).toEqual({ problem: expect.stringMatching(/permitted subtree violation/) });
    expect(await path(pki.issue('vm.example.org', constrained, { dns: ['vm.example.org'] }), [constrained], [root])).toEqual({ ok: true });
  });

  it('refuses certificates outside their validity, even right after the same path was accepted', async () => {
    const shortLived = pki.issue('short.metadata.azure.com', intermediate, { dns: ['short.metadata.azure.com'], days: 1 });
    expect(await path(shortLived, [intermediate], [root])).toEqual({ ok: true });
    expect(await path(shortLived, [intermediate], [root], later() + 2 * 86_400_000)).toEqual({ problem: expect.stringMatching(/certificate has expired/) });
    expect(await path(leaf, [intermediate], [root], Date.now() - 86_400_000)).toEqual({ problem: expect.stringMatching(/certificate is not yet valid/) });
  });

  it('ends on two CAs that issued each other (a loop in the candidates) instead of searching forever', async () => {
    // A and B certify each other with keys an attacker holds; neither leads to the configured root.
    const a0 = pki.root('Loop A');
    const b = pki.issue('Loop B', a0, { ca: true });
    const a = pki.issue('Loop A', b, { ca: true });
    const below = pki.issue('loop.metadata.azure.com', a, { dns: ['loop.metadata.azure.com'] });
    const started = Date.now();
    expect(await path(below, [a, b], [root])).toHaveProperty('problem');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
