/**
 * EC2 instance identity documents, signed in the test with keys whose certificates stand in for AWS's: the exact
 * signed bytes verify; any change to them, another signer, or a document the hub cannot bind is refused with why.
 */
import { sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAwsCertificates, verifyAwsIdentity, type AwsEvidence } from '../../app/cloud/attest-aws.js';
import type { RefusalReason } from '../../app/cloud/attest-refusal.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { TestPki, type Issued } from './test-pki.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');

/** Shaped like IMDS's answer: pretty-printed with AWS's own spacing, which the signature covers. */
function documentText(fields: Record<string, unknown> = {}): string {
  const doc = {
    accountId: '123456789012',
    architecture: 'x86_64',
    availabilityZone: 'eu-west-1a',
    imageId: 'ami-0abcdef1234567890',
    instanceId: 'i-0abc1234def567890',
    instanceType: 't3.small',
    pendingTime: '2026-11-25T11:50:00Z',
    privateIp: '10.0.0.5',
    region: 'eu-west-1',
    version: '2017-09-30',
    ...fields,
  };
  const lines = Object.entries(doc)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `  "${k}" : ${JSON.stringify(v)}`);
  return `{\n${lines.join(',\n')}\n}`;
}

let pki: TestPki;
let aws: Issued;
let otherRegion: Issued;
let impostor: Issued;
beforeAll(async () => {
  pki = await TestPki.create();
  aws = pki.root('Amazon Web Services LLC (test)', { ca: false });
  otherRegion = pki.root('Amazon Web Services LLC, other region (test)', { ca: false });
  impostor = pki.root('Not Amazon', { ca: false });
});
afterAll(() => pki.cleanup());

function signed(document: string, by: Issued = aws): AwsEvidence {
  return { document, signature: sign('sha256', Buffer.from(document), by.privateKey).toString('base64') };
}

/** The hub's configuration: a PEM bundle of AWS's certificates for every region it serves. */
const trust = () => ({ certificates: readAwsCertificates(otherRegion.certPem + aws.certPem, 'BITENVOY_AWS_IDENTITY_CERTS') });

describe('verifyAwsIdentity', () => {
  it('proves the instance from the exact bytes AWS signed', () => {
    const result = verifyAwsIdentity(signed(documentText()), trust(), { now: NOW });
    expect(result).toEqual({
      ok: true,
      identity: { provider: 'aws', account: '123456789012', instanceId: 'i-0abc1234def567890', region: 'eu-west-1', zone: 'eu-west-1a', issuedAt: '2026-11-25T11:50:00.000Z' },
    });
  });

  it('accepts a signature base64-wrapped over several lines, as `base64` prints it', () => {
    const evidence = signed(documentText());
    const wrapped = evidence.signature.replace(/(.{64})/g, '$1\n');
    expect(verifyAwsIdentity({ ...evidence, signature: wrapped }, trust(), { now: NOW }).ok).toBe(true);
  });

  it.each<[string, () => AwsEvidence, RefusalReason, RegExp]>([
    ['another instance id under the same signature', () => ({ ...signed(documentText()), document: documentText({ instanceId: 'i-0fff1234def567890' }) }), 'tampered', /changed after AWS signed it/],
    ['one byte changed', () => flipByte(signed(documentText())), 'tampered', /changed after AWS signed it/],
    ['the JSON re-serialised (same content, other whitespace)', () => {
      const evidence = signed(documentText());
      return { ...evidence, document: JSON.stringify(JSON.parse(evidence.document)) };
    }, 'tampered', /without re-formatting the JSON/],
    ['a trailing newline added', () => {
      const evidence = signed(documentText());
      return { ...evidence, document: `${evidence.document}\n` };
    }, 'tampered', /changed after AWS signed it/],
    ['signed by a key that is not AWS\'s', () => signed(documentText(), impostor), 'wrong-signer', /not signed by AWS, or the hub lacks the RSA certificate/],
    ['a signature that is not base64', () => ({ ...signed(documentText()), signature: 'not base64!' }), 'malformed', /not valid base64/],
    ['a truncated signature', () => {
      const evidence = signed(documentText());
      return { ...evidence, signature: Buffer.from(evidence.signature, 'base64').subarray(1).toString('base64') };
    }, 'wrong-signer', /does not verify/],
    ['no document', () => ({ document: '', signature: signed(documentText()).signature }), 'malformed', /document is missing/],
    ['no evidence at all', () => null as unknown as AwsEvidence, 'malformed', /no evidence was sent/],
    ['a signed document without accountId', () => signed(documentText({ accountId: undefined })), 'incomplete', /no usable accountId/],
    ['a signed document without instanceId and region', () => signed(documentText({ instanceId: undefined, region: undefined })), 'incomplete', /instanceId, region/],
    ['a signed instance id that could break store keys', () => signed(documentText({ instanceId: 'i-0abc/../x' })), 'incomplete', /instanceId/],
    ['signed bytes that are not JSON', () => signed('accountId=123456789012'), 'malformed', /not JSON/],
  ])('refuses %s', (_name, evidence, reason, message) => {
    const result = verifyAwsIdentity(evidence(), trust(), { now: NOW });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.refusal.reason).toBe(reason);
    expect(result.refusal.message).toMatch(message);
  });

  it('refuses when the hub is configured with other certificates only', () => {
    const result = verifyAwsIdentity(signed(documentText()), { certificates: [impostor.cert] }, { now: NOW });
    expect(result).toMatchObject({ ok: false, refusal: { reason: 'wrong-signer' } });
  });

  it('refuses a configuration with a certificate that cannot verify the base64 signature (not RSA)', () => {
    const dsaLike = pki.root('Amazon Web Services LLC (not RSA)', { ca: false, keyType: 'ec' });
    expect(() => readAwsCertificates(aws.certPem + dsaLike.certPem, 'BITENVOY_AWS_IDENTITY_CERTS')).toThrow(BitEnvoyError);
    expect(() => readAwsCertificates(aws.certPem + dsaLike.certPem, 'BITENVOY_AWS_IDENTITY_CERTS')).toThrow(/certificate 2 has a ec key; use AWS's "RSA" certificate/);
  });

  it('on a first binding, can require the instance to have launched recently', () => {
    const evidence = signed(documentText({ pendingTime: '2026-11-20T08:00:00Z' }));
    expect(verifyAwsIdentity(evidence, trust(), { now: NOW }).ok).toBe(true);
    const late = verifyAwsIdentity(evidence, trust(), { now: NOW, launchedWithinMs: 30 * 60_000 });
    expect(late).toMatchObject({ ok: false, refusal: { reason: 'expired' } });
    expect(!late.ok && late.refusal.message).toMatch(/last started at 2026-11-20T08:00:00Z, longer ago than the 30 min/);
    expect(verifyAwsIdentity(signed(documentText()), trust(), { now: NOW, launchedWithinMs: 30 * 60_000 }).ok).toBe(true);
  });
});

/** Changes one character of the document (a digit of the account id), keeping it valid JSON. */
function flipByte(evidence: AwsEvidence): AwsEvidence {
  return { ...evidence, document: evidence.document.replace('123456789012', '123456789013') };
}
