/**
 * Build provenance on the agent, against real Sigstore material made for the run (testbed/sigstore-trust.ts: a CA,
 * a transparency log, a CT log and a timestamp authority, real certificates by openssl): a genuine attestation passes,
 * and each way of lying — about the bytes, the repository, the workflow, the commit, the issuer, the CA, the log, the
 * time — is refused with its own reason.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadTrustRoot, type TrustRoot } from '../../../agent/artifacts/load-trust-root.js';
import { verifyProvenance, type ProvenanceRequirement } from '../../../agent/artifacts/verify-provenance.js';
import { BitEnvoyError } from '../../../lib/errors.js';
import { SigstoreTrust, type SignOptions } from '../../../testbed/sigstore-trust.js';

const sha256 = createHash('sha256').update('the artifact').digest('hex');
const otherSha256 = createHash('sha256').update('other bytes').digest('hex');
const commit = 'a'.repeat(40);
const require: ProvenanceRequirement = { repository: 'acme/shop', workflow: '.github/workflows/build.yml', commit };

let trust: SigstoreTrust;
let trustRoot: TrustRoot;

beforeAll(async () => {
  trust = await SigstoreTrust.create();
  trustRoot = await loadTrustRoot(trust.trustedRootPath, trust.dir);
});
afterAll(() => trust?.cleanup());

function sign(options: Partial<SignOptions> = {}): Record<string, unknown> {
  return trust.sign({ sha256, ...require, ...options });
}

async function refusal(bundles: unknown[], overrides: Partial<ProvenanceRequirement> = {}, root = trustRoot): Promise<BitEnvoyError> {
  const err = await verifyProvenance({ sha256, bundles, require: { ...require, ...overrides }, trustRoot: root }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BitEnvoyError);
  expect((err as BitEnvoyError).code).toBe('BE_PROVENANCE');
  return err as BitEnvoyError;
}

describe('a genuine attestation', () => {
  test('is accepted, naming the signer, the ref and the log entry', async () => {
    const proof = await verifyProvenance({ sha256, bundles: [sign()], require, trustRoot });
    expect(proof).toEqual({
      signer: 'https://github.com/acme/shop/.github/workflows/build.yml@refs/heads/main',
      workflowRef: 'refs/heads/main',
      commit,
      logIndex: '1',
    });
  });

  test('is accepted with an RFC 3161 timestamp as well, from any ref, among other subjects, digest in capitals', async () => {
    const bundle = sign({ timestampAuthority: true, ref: 'refs/tags/v1.2.0', sha256: [otherSha256, sha256] });
    const proof = await verifyProvenance({ sha256: sha256.toUpperCase(), bundles: [bundle], require, trustRoot });
    expect(proof.workflowRef).toBe('refs/tags/v1.2.0');
  });

  test('passes when one of several bundles passes; the others do not matter', async () => {
    const proof = await verifyProvenance({ sha256, bundles: [sign({ commit: 'b'.repeat(40) }), 'garbage', sign()], require, trustRoot });
    expect(proof.commit).toBe(commit);
  });

  test('accepts another issuer only when agent.yml names it (GitHub Enterprise Server)', async () => {
    const ghes = 'https://ghes.example.com/_services/token';
    const bundle = sign({ issuer: ghes });
    await expect(verifyProvenance({ sha256, bundles: [bundle], require: { ...require, issuer: ghes }, trustRoot })).resolves.toMatchObject({ commit });
    expect((await refusal([bundle])).message).toContain(`issuer (1.3.6.1.4.1.57264.1.8) is "${ghes}", expected "https://token.actions.githubusercontent.com"`);
  });
});

describe('nothing to check is refused', () => {
  test('no bundle at all', async () => {
    expect((await refusal([])).message).toMatch(/no valid build attestation from acme\/shop workflow \.github\/workflows\/build\.yml at commit a{40} .*: no attestation bundle came with it/);
  });

  test('a verifier that throws refuses; it never lets the artifact through', async () => {
    const broken = { path: 'broken', roots: undefined, unusable: [] } as unknown as TrustRoot;
    const err = await refusal([sign()], {}, broken);
    expect(err.message).toContain('the verifier failed unexpectedly');
  });

  test('a digest that is not one', async () => {
    const err = await verifyProvenance({ sha256: 'abc', bundles: [sign()], require, trustRoot }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('the artifact\'s digest is not 64 hex digits');
  });
});

describe('the bundle itself', () => {
  test('an unknown bundle version is refused, and so is 0.1', async () => {
    expect((await refusal([{ ...sign(), mediaType: 'application/vnd.dev.sigstore.bundle.v0.9+json' }])).message).toContain('not a Sigstore bundle of a known version');
    expect((await refusal([{ ...sign(), mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1' }])).message).toContain('not a Sigstore bundle of a known version');
  });

  test('a bundle that does not parse is refused, whatever it is', async () => {
    const bundle = sign();
    const err = await refusal([null, 42, { ...bundle, verificationMaterial: undefined }, { ...bundle, dsseEnvelope: { ...(bundle.dsseEnvelope as object), signatures: [] } }]);
    expect(err.details?.reasons).toEqual([
      expect.stringContaining('not a Sigstore bundle of a known version'),
      expect.stringContaining('not a Sigstore bundle of a known version'),
      expect.stringContaining('does not parse as a Sigstore bundle: invalid bundle (verificationMaterial)'),
      expect.stringContaining('does not parse as a Sigstore bundle: invalid bundle (content.dsseEnvelope.signatures)'),
    ]);
    expect(err.message).toContain('bundle 4 of 4:');
  });

  test('a signed message digest instead of a DSSE statement is refused', async () => {
    const { dsseEnvelope: _envelope, ...bundle } = sign();
    const messageSignature = { messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(sha256, 'hex').toString('base64') }, signature: Buffer.from('sig').toString('base64') };
    expect((await refusal([{ ...bundle, messageSignature }])).message).toContain('it signs a message digest, not a DSSE envelope');
  });

  test('a bundle signed by a bare key instead of a certificate is refused', async () => {
    const bundle = sign();
    const material = bundle.verificationMaterial as Record<string, unknown>;
    const keyed = { ...bundle, verificationMaterial: { publicKey: { hint: 'some-key' }, tlogEntries: material.tlogEntries } };
    expect((await refusal([keyed])).message).toContain('signed by a bare public key, not by a Fulcio certificate');
  });

  test('a certificate that is not one is refused, not crashed on', async () => {
    const bundle = sign();
    const material = bundle.verificationMaterial as Record<string, unknown>;
    const broken = { ...bundle, verificationMaterial: { ...material, certificate: { rawBytes: Buffer.from('not DER').toString('base64') } } };
    expect((await refusal([broken])).message).toMatch(/certificate or timestamps do not parse|verifier failed/);
  });

  test('a payload changed after signing (by the hub, or the attestation store) is refused', async () => {
    const bundle = sign();
    const envelope = bundle.dsseEnvelope as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as { subject: { digest: { sha256: string } }[] };
    statement.subject[0]!.digest.sha256 = otherSha256;
    const tampered = { ...bundle, dsseEnvelope: { ...envelope, payload: Buffer.from(JSON.stringify(statement)).toString('base64') } };
    const err = await refusal([tampered]);
    expect(err.message).toContain('the log entry records another signature or payload than the bundle holds');
    expect(err.message).toContain('DSSE payload hash mismatch');
  });

  test('a signature that is not by the certificate\'s key is refused, even when logged', async () => {
    const err = await refusal([sign({ forgeSignature: true })]);
    expect(err.message).toContain('the signature check failed');
    expect(err.message).toContain('sigstore SIGNATURE_ERROR');
  });
});

describe('the certificate chain and the time of signing', () => {
  test('a leaf from a CA the trust root does not name is refused', async () => {
    const err = await refusal([sign({ ca: 'foreign' })]);
    expect(err.message).toContain('the certificate check failed');
    expect(err.message).toContain('no valid certificate path found');
  });

  test('a leaf from an impostor CA with the trusted CA\'s name and key identifier is refused', async () => {
    expect((await refusal([sign({ ca: 'impostor' })])).message).toContain('the certificate check failed');
    // Without CT logs in the root (no SCT to bind the issuer's key) the chain's signature check alone must catch it.
    const withoutCtLogs = await loadTrustRoot(trust.writeTrustedRoot({ ctlogs: false }), trust.dir);
    const err = await refusal([sign({ ca: 'impostor', sct: false })], {}, withoutCtLogs);
    expect(err.message).toContain('no valid certificate path found');
  });

  test('a leaf expired at the signing time is refused', async () => {
    const now = Date.now();
    const err = await refusal([sign({ leafValidity: { notBefore: new Date(now - 20 * 60_000), notAfter: new Date(now - 10 * 60_000) } })]);
    expect(err.message).toContain('certificate is not valid or expired at the specified date');
  });

  test('a leaf not yet valid at the signing time is refused', async () => {
    const now = Date.now();
    const err = await refusal([sign({ leafValidity: { notBefore: new Date(now + 10 * 60_000), notAfter: new Date(now + 20 * 60_000) } })]);
    expect(err.message).toContain('certificate is not valid or expired at the specified date');
  });

  test('a leaf without an SCT is refused when the trust root lists a CT log, accepted when it lists none', async () => {
    const bundle = sign({ sct: false });
    expect((await refusal([bundle])).message).toContain('expected 1 SCTs, got 0');
    const withoutCtLogs = await loadTrustRoot(trust.writeTrustedRoot({ ctlogs: false }), trust.dir);
    await expect(verifyProvenance({ sha256, bundles: [bundle], require, trustRoot: withoutCtLogs })).resolves.toMatchObject({ commit });
  });

  test('a leaf whose SCT is by a CT log the trust root does not name is refused', async () => {
    const err = await refusal([sign({ sct: 'foreign' })]);
    expect(err.message).toContain('SCT verification failed');
  });
});

describe('the transparency log', () => {
  test('a bundle without a log entry is refused, even with a verified timestamp', async () => {
    const err = await refusal([sign({ tlog: 'none', timestampAuthority: true })]);
    expect(err.message).toContain('the transparency-log check failed');
    expect(err.message).toContain('expected 1 tlog entries, got 0');
  });

  test('a log entry signed by a log the trust root does not name is refused', async () => {
    const err = await refusal([sign({ tlog: 'foreign', timestampAuthority: true })]);
    expect(err.message).toContain('signed entry timestamp does not verify with a log key of the trust root');
  });

  test('without a log entry nor a timestamp there is no signing time, and that is refused', async () => {
    expect((await refusal([sign({ tlog: 'none' })])).message).toContain('the signing-time check failed');
  });
});

describe('who signed: the certificate identity', () => {
  test.each([
    ['another repository', { repository: 'evil/shop' }, 'source repository (1.3.6.1.4.1.57264.1.12) is https://github.com/evil/shop, expected https://github.com/acme/shop'],
    ['a repository whose name only starts like ours', { repository: 'acme/shop-evil' }, 'is https://github.com/acme/shop-evil, expected https://github.com/acme/shop'],
    ['another workflow', { workflow: '.github/workflows/release.yml' }, 'build signer (1.3.6.1.4.1.57264.1.9) is https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main, expected https://github.com/acme/shop/.github/workflows/build.yml@<ref>'],
    ['a workflow path that only starts like ours', { workflow: '.github/workflows/build.yml-evil.yml' }, 'build signer (1.3.6.1.4.1.57264.1.9) is https://github.com/acme/shop/.github/workflows/build.yml-evil.yml@'],
    ['a reusable workflow of another repository', { identity: { buildSignerUri: 'https://github.com/evil/shop/.github/workflows/build.yml@refs/heads/main' } }, 'another workflow signed it'],
    ['a build signer URI without a ref', { identity: { buildSignerUri: 'https://github.com/acme/shop/.github/workflows/build.yml' } }, 'another workflow signed it'],
    ['a build signer URI with an empty ref', { identity: { buildSignerUri: 'https://github.com/acme/shop/.github/workflows/build.yml@' } }, 'another workflow signed it'],
    ['another commit', { commit: 'b'.repeat(40) }, `source commit (1.3.6.1.4.1.57264.1.13) is ${'b'.repeat(40)}, expected the deployed commit ${commit}`],
    ['another issuer', { issuer: 'https://token.evil.example' }, 'issuer (1.3.6.1.4.1.57264.1.8) is "https://token.evil.example"'],
    ['no issuer (V2) extension', { identity: { issuer: null } }, 'the certificate has no issuer extension (1.3.6.1.4.1.57264.1.8)'],
    ['no source commit extension', { identity: { sourceRepositoryDigest: null } }, 'has no sourceRepositoryDigest extension'],
  ] as [string, Partial<SignOptions>, string][])('%s is refused', async (_name, options, reason) => {
    expect((await refusal([sign(options)])).message).toContain(reason);
  });

  test('the repository compares without regard to case, like GitHub names', async () => {
    await expect(verifyProvenance({ sha256, bundles: [sign()], require: { ...require, repository: 'Acme/Shop' }, trustRoot })).resolves.toMatchObject({ commit });
  });
});

describe('what was signed: the statement', () => {
  const edit = (change: (s: Record<string, unknown>) => void) => (s: Record<string, unknown>) => {
    change(s);
    return s;
  };
  test.each([
    ['a statement about other bytes', { sha256: otherSha256 }, `do not include the artifact's sha256 ${sha256}`],
    ['a statement with no subject list', { statement: edit((s) => delete s.subject) }, 'the statement has no subject list'],
    ['another predicate (an SBOM)', { statement: edit((s) => (s.predicateType = 'https://spdx.dev/Document')) }, 'predicateType is "https://spdx.dev/Document", expected https://slsa.dev/provenance/v1'],
    ['SLSA provenance v0.2', { statement: edit((s) => (s.predicateType = 'https://slsa.dev/provenance/v0.2')) }, 'expected https://slsa.dev/provenance/v1'],
    ['an envelope that is not an in-toto statement', { payloadType: 'application/json' }, 'payloadType is "application/json", expected application/vnd.in-toto+json'],
    ['another statement type', { statement: edit((s) => (s._type = 'https://in-toto.io/Statement/v0.1')) }, '_type is "https://in-toto.io/Statement/v0.1", expected https://in-toto.io/Statement/v1'],
  ] as [string, Partial<SignOptions>, string][])('%s is refused', async (_name, options, reason) => {
    expect((await refusal([sign(options)])).message).toContain(reason);
  });
});

describe('several bundles, none good', () => {
  test('the refusal lists why each failed', async () => {
    const err = await refusal([sign({ commit: 'b'.repeat(40) }), sign({ ca: 'foreign' }), sign({ sha256: otherSha256 })]);
    expect(err.details?.reasons).toHaveLength(3);
    expect(err.message).toMatch(/bundle 1 of 3: the certificate's source commit .*; bundle 2 of 3: the certificate check failed.*; bundle 3 of 3: the statement's subjects/);
  });
});
