/** Certificates as configuration, and the chain check: each link signed by the next, pinned roots, validity now. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainToRoot, dnsNamesOf, readPemCertificates } from '../../app/cloud/attest-x509-chain.js';
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

describe('chainToRoot', () => {
  // Later than the moment the certificates were made (they are valid from then), on any day the test runs.
  const later = () => Date.now() + 60_000;

  it('walks leaf → intermediate → root', () => {
    const result = chainToRoot(leaf.cert, [intermediate.cert], [root.cert], later());
    expect('chain' in result && result.chain.map((c) => c.subject)).toEqual(['CN=leaf.metadata.azure.com', 'CN=Chain Intermediate', 'CN=Chain Root']);
  });

  it('stops at a pinned intermediate configured as a root', () => {
    expect(chainToRoot(leaf.cert, [], [intermediate.cert], later())).toHaveProperty('chain');
  });

  it('refuses a leaf whose issuer is missing, or a look-alike issuer with the right name', () => {
    expect(chainToRoot(leaf.cert, [], [root.cert], later())).toEqual({ problem: expect.stringMatching(/does not lead to a configured root/) });
    const impostor = pki.issue('Chain Intermediate', pki.root('Chain Root'), { ca: true });
    expect(chainToRoot(leaf.cert, [impostor.cert], [root.cert], later())).toHaveProperty('problem');
  });

  it('refuses a chain through a certificate that is not a CA', () => {
    const notCa = pki.issue('Not a CA', root);
    const below = pki.issue('below.metadata.azure.com', notCa);
    expect(chainToRoot(below.cert, [notCa.cert], [root.cert], later())).toHaveProperty('problem');
  });

  it('refuses certificates outside their validity', () => {
    expect(chainToRoot(leaf.cert, [intermediate.cert], [root.cert], later() + 400 * 86_400_000)).toEqual({ problem: expect.stringMatching(/expired on/) });
    expect(chainToRoot(leaf.cert, [intermediate.cert], [root.cert], Date.now() - 86_400_000)).toEqual({ problem: expect.stringMatching(/not valid before/) });
  });
});

it('dnsNamesOf prefers subject alternative names over the common name', () => {
  expect(dnsNamesOf(leaf.cert)).toEqual(['leaf.metadata.azure.com', 'other.example']);
  expect(dnsNamesOf(root.cert)).toEqual(['chain root']);
});
