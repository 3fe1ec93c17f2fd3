/**
 * Azure attested data: PKCS#7 envelopes made by `openssl cms` in the test, signed by a "metadata.azure.com"
 * certificate under a test root — and the real sample from Azure's documentation, to prove the parser reads what
 * Azure actually sends. Valid evidence proves the VM; every way to forge, alter or replay it is refused with why,
 * including certificates that chain to the configured root but may not sign attested data (issue 12, item 21).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAzureTime, verifyAzureIdentity, type AzureAttestedData, type AzureTrust } from '../../app/cloud/attest-azure.js';
import { readSignedData } from '../../app/cloud/attest-cms.js';
import type { RefusalReason } from '../../app/cloud/attest-refusal.js';
import { azureTime, TestPki, type Issued } from './test-pki.js';

/**
 * A minute from now, on a whole second (Azure's timestamps have no milliseconds): certificates made by openssl are
 * valid from the moment they are made, so the hub's "now" must not precede that, whatever day the test runs.
 */
const NOW = Math.floor(Date.now() / 1000) * 1000 + 60_000;
const NONCE = '0123456789';
const VM_ID = '02aab8a4-74ef-476e-8182-f6d2ba4166a6';
const SUBSCRIPTION = '8d10da13-8125-4ba9-a717-bf7490507b3d';


function document(overrides: Record<string, unknown> = {}, at = NOW): Buffer {
  return Buffer.from(
    JSON.stringify({
      licenseType: '',
      nonce: NONCE,
      plan: { name: '', product: '', publisher: '' },
      sku: '22_04-lts-gen2',
      subscriptionId: SUBSCRIPTION,
      timeStamp: { createdOn: azureTime(at - 20_000), expiresOn: azureTime(at + 6 * 3600_000) },
      vmId: VM_ID,
      ...overrides,
    }),
  );
}

let pki: TestPki;
let root: Issued;
let intermediate: Issued;
let signer: Issued;
beforeAll(async () => {
  pki = await TestPki.create();
  root = pki.root('Test Azure Root CA');
  intermediate = pki.issue('Test Azure TLS Issuing CA 01', root, { ca: true });
  signer = pki.issue('eastus.metadata.azure.com', intermediate, { dns: ['eastus.metadata.azure.com'] });
});
afterAll(() => pki.cleanup());

/** The hub's configuration: the root, and the intermediate pinned (Azure's envelope carries only the signer). */
const trust = (): AzureTrust => ({ roots: [root.cert], intermediates: [intermediate.cert] });

/** As IMDS signs: content signed directly (no signed attributes), only the signer's certificate in the envelope. */
function attested(content = document(), by = signer, options: Parameters<TestPki['cmsSign']>[2] = {}): AzureAttestedData {
  return { encoding: 'pkcs7', signature: pki.cmsSign(content, by, { signedAttributes: false, ...options }).toString('base64') };
}

function changeContentByte(evidence: AzureAttestedData): AzureAttestedData {
  const der = Buffer.from(evidence.signature, 'base64');
  const at = der.indexOf(Buffer.from(VM_ID));
  expect(at).toBeGreaterThan(0);
  der[at] = der[at] === 0x30 ? 0x31 : 0x30; // one character of the vmId
  return { ...evidence, signature: der.toString('base64') };
}

describe('verifyAzureIdentity', () => {
  it('proves the VM: subscription and vmId, when signed by metadata.azure.com under the configured root', async () => {
    expect(await verifyAzureIdentity(attested(), trust(), { nonce: NONCE, now: NOW })).toEqual({
      ok: true,
      identity: { provider: 'azure', account: SUBSCRIPTION, instanceId: VM_ID, issuedAt: new Date(NOW - 20_000).toISOString() },
    });
  });

  it('also accepts envelopes with signed attributes and the chain inside, when no intermediates are pinned', async () => {
    const evidence = attested(document(), signer, { signedAttributes: true, extraCerts: [intermediate] });
    expect((await verifyAzureIdentity(evidence, { roots: [root.cert] }, { nonce: NONCE, now: NOW })).ok).toBe(true);
  });

  it('accepts a signer shaped like Azure\'s own: a TLS server certificate (serverAuth, clientAuth; digitalSignature, keyEncipherment)', async () => {
    const azureLike = pki.issue('metadata.azure.com', intermediate, {
      dns: ['metadata.azure.com', 'southcentralus.metadata.azure.com'],
      basicConstraints: null,
      keyUsage: 'critical, digitalSignature, keyEncipherment, dataEncipherment',
      extKeyUsage: 'serverAuth, clientAuth',
    });
    expect((await verifyAzureIdentity(attested(document(), azureLike), trust(), { nonce: NONCE, now: NOW })).ok).toBe(true);
  });

  it.each<[string, () => { evidence: AzureAttestedData; trust?: AzureTrust; nonce?: string; now?: number }, RefusalReason, RegExp]>([
    ['one byte of the content changed', () => ({ evidence: changeContentByte(attested()) }), 'tampered', /changed after signing/],
    ['one byte changed under signed attributes', () => ({ evidence: changeContentByte(attested(document(), signer, { signedAttributes: true })) }), 'tampered', /signed digest does not match the content/],
    ['a signer certificate under another root', () => {
      const rogueRoot = pki.root('Rogue Root');
      return { evidence: attested(document(), pki.issue('metadata.azure.com', rogueRoot, { dns: ['metadata.azure.com'] })) };
    }, 'wrong-signer', /does not lead to a configured root certificate/],
    ['a self-signed certificate named metadata.azure.com', () => ({ evidence: attested(document(), pki.root('metadata.azure.com', { ca: false })) }), 'wrong-signer', /configured root/],
    ['a trusted chain but a signer that is not metadata.azure.com', () => ({
      evidence: attested(document(), pki.issue('metadata.evil.example', intermediate, { dns: ['metadata.evil.example'] })),
    }), 'wrong-signer', /not a certificate for metadata\.azure\.com/],
    ['a look-alike name (evilmetadata.azure.com)', () => ({
      evidence: attested(document(), pki.issue('evilmetadata.azure.com', intermediate, { dns: ['evilmetadata.azure.com'] })),
    }), 'wrong-signer', /not a certificate for metadata\.azure\.com/],
    ['the signer certificate left out', () => ({ evidence: attested(document(), signer, { includeSigner: false }) }), 'tampered', /signer certificate is missing/],
    ['an intermediate that is not pinned nor sent', () => ({ evidence: attested(), trust: { roots: [root.cert] } }), 'wrong-signer', /does not lead to a configured root/],
    ['an expired signer certificate', () => {
      const later = NOW + 3 * 86_400_000;
      const shortLived = pki.issue('westeurope.metadata.azure.com', intermediate, { dns: ['westeurope.metadata.azure.com'], days: 1 });
      return { evidence: attested(document({}, later), shortLived), now: later };
    }, 'wrong-signer', /certificate has expired/],
    ['another nonce (a replay, or IMDS\'s cache)', () => ({ evidence: attested(), nonce: '9876543210' }), 'wrong-nonce', /carries nonce "0123456789", not the one the hub issued \(9876543210\)/],
    ['no nonce in the document', () => ({ evidence: attested(document({ nonce: undefined })) }), 'wrong-nonce', /carries no nonce, not the one the hub issued/],
    ['an expired document', () => ({
      evidence: attested(document({ timeStamp: { createdOn: azureTime(NOW - 7 * 3600_000), expiresOn: azureTime(NOW - 3600_000) } })),
    }), 'expired', /expired at/],
    ['a document older than the hub accepts', () => ({
      evidence: attested(document({ timeStamp: { createdOn: azureTime(NOW - 3600_000), expiresOn: azureTime(NOW + 3600_000) } })),
    }), 'expired', /more than 600 s ago/],
    ['a document from the future', () => ({
      evidence: attested(document({ timeStamp: { createdOn: azureTime(NOW + 3600_000), expiresOn: azureTime(NOW + 7200_000) } })),
    }), 'expired', /created in the future/],
    ['timestamps in another format', () => ({ evidence: attested(document({ timeStamp: { createdOn: '2026-11-25T12:00:00Z', expiresOn: '2026-11-25T18:00:00Z' } })) }), 'malformed', /MM\/DD\/YY/],
    ['no subscriptionId (an old api-version)', () => ({ evidence: attested(document({ subscriptionId: undefined })) }), 'incomplete', /api-version 2020-09-01/],
    ['signed content that is not JSON', () => ({ evidence: attested(Buffer.from('hello')) }), 'malformed', /not JSON/],
    // Item 21: certificates that chain to the configured root, yet may not sign attested data.
    ['a signer under a name-constrained sub-CA (permitted: .example.org) carried in the envelope', () => {
      const subCa = pki.issue('Rogue Sub CA', root, { ca: true, nameConstraints: 'permitted;DNS:.example.org' });
      return { evidence: attested(document(), pki.issue('eastus.metadata.azure.com', subCa, { dns: ['eastus.metadata.azure.com'] }), { extraCerts: [subCa] }), trust: { roots: [root.cert] } };
    }, 'wrong-signer', /permitted subtree violation/],
    ['the same with the name only in the common name', () => {
      const subCa = pki.issue('Rogue Sub CA', root, { ca: true, nameConstraints: 'permitted;DNS:.example.org' });
      return { evidence: attested(document(), pki.issue('metadata.azure.com', subCa), { extraCerts: [subCa] }), trust: { roots: [root.cert] } };
    }, 'wrong-signer', /permitted subtree violation/],
    ['a signer below a CA under a path-length-0 CA', () => {
      const zero = pki.issue('Path Length 0 CA', root, { ca: true, pathLen: 0 });
      const sub = pki.issue('Sub CA', zero, { ca: true });
      return { evidence: attested(document(), pki.issue('eastus.metadata.azure.com', sub, { dns: ['eastus.metadata.azure.com'] }), { extraCerts: [zero, sub] }), trust: { roots: [root.cert] } };
    }, 'wrong-signer', /path length constraint exceeded/],
    ['a code-signing-only signer', () => ({
      evidence: attested(document(), pki.issue('eastus.metadata.azure.com', intermediate, { dns: ['eastus.metadata.azure.com'], extKeyUsage: 'codeSigning' })),
    }), 'wrong-signer', /extended key usage \(1\.3\.6\.1\.5\.5\.7\.3\.3\) does not include serverAuth/],
    ['a signer whose only extended key usage is anyExtendedKeyUsage', () => ({
      evidence: attested(document(), pki.issue('eastus.metadata.azure.com', intermediate, { dns: ['eastus.metadata.azure.com'], extKeyUsage: 'anyExtendedKeyUsage' })),
    }), 'wrong-signer', /does not include serverAuth/],
    ['a signer whose key usage leaves out digitalSignature', () => ({
      evidence: attested(document(), pki.issue('eastus.metadata.azure.com', intermediate, { dns: ['eastus.metadata.azure.com'], keyUsage: 'critical, keyEncipherment' })),
    }), 'wrong-signer', /key usage does not include digitalSignature/],
    ['a signer that is itself a CA (cA=true)', () => ({
      evidence: attested(document(), pki.issue('eastus.metadata.azure.com', intermediate, { ca: true, dns: ['eastus.metadata.azure.com'] })),
    }), 'wrong-signer', /is a CA certificate/],
    ['a signer with keyCertSign but no basicConstraints', () => ({
      evidence: attested(document(), pki.issue('eastus.metadata.azure.com', intermediate, { dns: ['eastus.metadata.azure.com'], basicConstraints: null, keyUsage: 'critical, digitalSignature, keyCertSign' })),
    }), 'wrong-signer', /is a CA certificate/],
    ['an intermediate from the envelope while intermediates are pinned', () => {
      const unpinned = pki.issue('Other CA Under The Root', root, { ca: true });
      return { evidence: attested(document(), pki.issue('eastus.metadata.azure.com', unpinned, { dns: ['eastus.metadata.azure.com'] }), { extraCerts: [unpinned] }) };
    }, 'wrong-signer', /does not lead to a configured root/],
    ['nothing sent', () => ({ evidence: null as unknown as AzureAttestedData }), 'malformed', /no attested data was sent/],
    ['another encoding', () => ({ evidence: { ...attested(), encoding: 'jws' } }), 'malformed', /encoding "jws" is not pkcs7/],
    ['a signature that is not base64', () => ({ evidence: { encoding: 'pkcs7', signature: '%%%' } }), 'malformed', /not valid base64/],
    ['a truncated envelope', () => ({ evidence: { encoding: 'pkcs7', signature: Buffer.from(attested().signature, 'base64').subarray(0, 300).toString('base64') } }), 'malformed', /claims \d+ bytes/],
    ['BER indefinite lengths', () => ({ evidence: { encoding: 'pkcs7', signature: Buffer.from([0x30, 0x80, 0x06, 0x01, 0x00, 0x00, 0x00]).toString('base64') } }), 'malformed', /indefinite length/],
    ['something else than SignedData', () => ({ evidence: { encoding: 'pkcs7', signature: Buffer.from('300d06092a864886f70d010701a000', 'hex').toString('base64') } }), 'malformed', /not a PKCS#7 SignedData/],
  ])('refuses %s', async (_name, make, reason, message) => {
    const { evidence, trust: configured, nonce, now } = make();
    const result = await verifyAzureIdentity(evidence, configured ?? trust(), { nonce: nonce ?? NONCE, now: now ?? NOW });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.refusal.reason).toBe(reason);
    expect(result.refusal.message).toMatch(message);
  });

  it('honours the configured signer names (sovereign clouds)', async () => {
    const usGov = pki.issue('usgovvirginia.metadata.azure.us', intermediate, { dns: ['usgovvirginia.metadata.azure.us'] });
    expect((await verifyAzureIdentity(attested(document(), usGov), trust(), { nonce: NONCE, now: NOW })).ok).toBe(false);
    expect((await verifyAzureIdentity(attested(document(), usGov), { ...trust(), signerNames: ['metadata.azure.us'] }, { nonce: NONCE, now: NOW })).ok).toBe(true);
  });
});

describe('the sample attested data from Azure\'s documentation', () => {
  const sample = JSON.parse(readFileSync(new URL('./fixtures/azure-attested-document.docs-sample.json', import.meta.url), 'utf8')) as AzureAttestedData;
  const envelope = readSignedData(Buffer.from(sample.signature, 'base64'));
  // The sample's signer is a self-signed test certificate: trusting it as the root isolates the envelope format.
  const sampleTrust: AzureTrust = { roots: envelope.certificates.map((c) => c.cert) };
  const during = Date.parse('2018-11-20T22:08:00Z');

  it('is read and its signature and signer verify, down to the fields the sample leaves empty', async () => {
    expect(envelope.content.toString()).toContain('"nonce":"1234566766"');
    const result = await verifyAzureIdentity(sample, sampleTrust, { nonce: '1234566766', now: during });
    // Everything up to the identity checked out: the sample's vmId is empty and it predates subscriptionId.
    expect(result).toMatchObject({ ok: false, refusal: { reason: 'incomplete' } });
  });

  it('is refused as tampered when one byte of its content changes', async () => {
    const der = Buffer.from(sample.signature, 'base64');
    der[der.indexOf(Buffer.from('1234566766'))] = 0x39;
    const result = await verifyAzureIdentity({ ...sample, signature: der.toString('base64') }, sampleTrust, { nonce: '9234566766', now: during });
    expect(result).toMatchObject({ ok: false, refusal: { reason: 'tampered' } });
  });

  it('is expired a few minutes after it was made', async () => {
    const result = await verifyAzureIdentity(sample, sampleTrust, { nonce: '1234566766', now: during + 10 * 60_000 });
    expect(result).toMatchObject({ ok: false, refusal: { reason: 'expired' } });
  });
});

describe('parseAzureTime', () => {
  it.each([
    ['11/30/20 21:19:19 -0000', '2020-11-30T21:19:19.000Z'],
    ['11/30/20 21:19:19 +0100', '2020-11-30T20:19:19.000Z'],
    ['02/31/26 00:00:00 -0000', undefined],
    ['2020-11-30T21:19:19Z', undefined],
    [1606771159, undefined],
  ])('%s → %s', (text, iso) => {
    const parsed = parseAzureTime(text);
    expect(parsed === undefined ? undefined : new Date(parsed).toISOString()).toBe(iso);
  });
});
