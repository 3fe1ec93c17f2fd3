/**
 * Verifies Azure IMDS attested data: the response of `/metadata/attested/document?api-version=…&nonce=<n>`,
 * `{ "encoding": "pkcs7", "signature": "<base64 PKCS#7>" }`, whose envelope carries the signed JSON (`nonce`, `vmId`,
 * `subscriptionId`, `timeStamp.createdOn/expiresOn`, …) and the signer's certificate.
 *
 * In two steps, so that a caller can spend its nonce between them:
 * 1. {@link readAzureEvidence} reads everything without trusting anything: base64, the envelope (attest-cms.ts), every
 *    certificate in it with its key and extensions, the signed JSON. Any failure, whatever threw it, is a `malformed`
 *    refusal — never an exception.
 * 2. {@link checkAzureEvidence} decides, fail-closed: the signature verifies with a certificate in the envelope; that
 *    certificate may sign attested data (an end entity for `metadata.azure.com`, attest-x509-signer.ts); OpenSSL's
 *    verifier finds a valid path from it to a configured root (attest-x509-chain.ts); the nonce is the one the hub
 *    issued; the document is not expired.
 *
 * Paths: only the configured roots are anchors. When intermediates are configured (Azure's envelope omits them and
 * Azure documents pinning them), paths go only through those, and certificates in the envelope are never used to
 * build one. With none configured, certificates in the envelope may serve as untrusted intermediates, as in TLS: PKIX
 * allows it, and every constraint of every CA on the path (name constraints, path length, key usage) still holds.
 *
 * Azure's nonce is a 10-digit string, so the hub's Azure nonces are too (attest-nonce.ts). IMDS may answer from a
 * cache with an older nonce: that is refused as a wrong nonce, and the agent simply asks again. The attested data
 * carries no region: the identity is subscription + vmId, and discovery supplies the location.
 *
 * @example
 * const trust = { roots: readPemCertificates(rootsPem, 'BITENVOY_AZURE_ROOTS'), intermediates: readPemCertificates(…) };
 * const read = readAzureEvidence({ encoding: 'pkcs7', signature });
 * if (read.ok) await checkAzureEvidence(read.evidence, trust, { nonce: '0123456789' });
 */
import type { X509Certificate } from 'node:crypto';
import type { AzureAttestedData } from '../../lib/protocol.js';
import type { ProvedIdentity } from './cloud-instance.js';
import { checkSignedData, readSignedData, type SignedData } from './attest-cms.js';
import { decodeBase64, EvidenceFormatError, objectField, parseJsonObject, safeId } from './attest-encoding.js';
import { refuse, type Refusal, type Verified } from './attest-refusal.js';
import { verifyCertificatePath } from './attest-x509-chain.js';
import { readCertificateExtensions, type CertificateExtensions } from './attest-x509-extensions.js';
import { checkSignerCertificate } from './attest-x509-signer.js';

export type { AzureAttestedData } from '../../lib/protocol.js';

export interface AzureTrust {
  /** Root certificates the signer must chain to (public Azure: the roots Microsoft documents for IMDS). */
  roots: X509Certificate[];
  /** Pinned intermediates: when set, the only certificates a path may go through. */
  intermediates?: X509Certificate[];
  /** DNS names the signer certificate may be for, each also allowing its subdomains. Default `metadata.azure.com`. */
  signerNames?: string[];
  clockSkewMs?: number;
  /** Refuse documents created longer ago than this, whatever their own expiry says. */
  maxAgeMs?: number;
}

export interface AzureCheck {
  /** The nonce the hub issued to this agent (and has just consumed). */
  nonce: string;
  now?: number;
}

/** Attested data read but not yet trusted. */
export interface AzureEvidence {
  signed: SignedData;
  /** The extensions of each certificate in the envelope, in the envelope's order. */
  extensions: CertificateExtensions[];
  document: Record<string, unknown>;
}

const MAX_ENVELOPE_BYTES = 16 * 1024;
const DEFAULT_SIGNER_NAMES = ['metadata.azure.com'];
const DEFAULT_SKEW_MS = 60_000;
const DEFAULT_MAX_AGE_MS = 10 * 60_000;
const REFETCH = 'ask the hub for a new nonce and fetch /metadata/attested/document with it again';
const RESEND = 'send the IMDS response as it is';

/** Reads `attested` completely, trusting nothing yet; any failure at all is a `malformed` refusal. */
export function readAzureEvidence(attested: unknown): { ok: true; evidence: AzureEvidence } | { ok: false; refusal: Refusal } {
  try {
    if (typeof attested !== 'object' || attested === null) throw new EvidenceFormatError('no attested data was sent');
    const { encoding, signature } = attested as Partial<AzureAttestedData>;
    if (encoding !== undefined && encoding !== 'pkcs7') throw new EvidenceFormatError(`encoding ${JSON.stringify(encoding)} is not pkcs7`);
    const signed = readSignedData(decodeBase64(signature, 'the signature', MAX_ENVELOPE_BYTES));
    const extensions = signed.certificates.map(({ cert }, i) => {
      try {
        return readCertificateExtensions(cert.raw);
      } catch (err) {
        throw new EvidenceFormatError(`certificate ${i + 1} in the envelope has extensions that cannot be read (${(err as Error).message})`);
      }
    });
    const document = parseJsonObject(signed.content.toString('utf8'), 'the signed document');
    return { ok: true, evidence: { signed, extensions, document } };
  } catch (err) {
    // DerError, EvidenceFormatError, or whatever Node's parsers throw: bytes we cannot read are never half-trusted.
    return refuse('malformed', `Azure attested data: ${(err as Error).message}; ${RESEND}`);
  }
}

/** Decides whether read evidence proves a VM: signature, signer, path to a root, nonce, times, identity. */
export async function checkAzureEvidence(evidence: AzureEvidence, trust: AzureTrust, check: AzureCheck): Promise<Verified> {
  const now = check.now ?? Date.now();
  let signerRefusal: Verified | undefined;
  try {
    signerRefusal = await checkSigner(evidence, trust, now);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'BE_INTERNAL') throw err; // the hub cannot verify at all: not the agent's fault
    return refuse('malformed', `Azure attested data: its certificates cannot be checked (${(err as Error).message}); ${RESEND}`);
  }
  return signerRefusal ?? identityOf(evidence.document, trust, check.nonce, now);
}

/** {@link readAzureEvidence} then {@link checkAzureEvidence}, for callers with no nonce to keep unspent. */
export async function verifyAzureIdentity(attested: AzureAttestedData, trust: AzureTrust, check: AzureCheck): Promise<Verified> {
  const read = readAzureEvidence(attested);
  return read.ok ? checkAzureEvidence(read.evidence, trust, check) : read;
}

async function checkSigner({ signed, extensions }: AzureEvidence, trust: AzureTrust, now: number): Promise<Verified | undefined> {
  const checked = checkSignedData(signed);
  if ('problem' in checked) return refuse('tampered', `Azure attested data: ${checked.problem}; ${REFETCH}`);
  const signer = checked.signer.cert;
  const ext = extensions[signed.certificates.indexOf(checked.signer)]!;
  const unfit = checkSignerCertificate(signer, ext, trust.signerNames ?? DEFAULT_SIGNER_NAMES);
  if (unfit) return refuse('wrong-signer', `Azure attested data: ${unfit}`);
  // Pinned intermediates, when there are any, are the only way to a root: an envelope cannot bring its own.
  const untrusted = trust.intermediates?.length ? trust.intermediates : signed.certificates.map((c) => c.cert).filter((c) => c !== signer);
  const path = await verifyCertificatePath(signer, { anchors: trust.roots, untrusted, at: now });
  if ('problem' in path) {
    return refuse('wrong-signer', `Azure attested data: signer ${path.problem}; if Azure rotated its intermediate certificates, update the hub's pinned Azure intermediates and roots`);
  }
  return undefined;
}

function identityOf(document: Record<string, unknown>, trust: AzureTrust, nonce: string, now: number): Verified {
  if (document.nonce !== nonce) {
    const carried = document.nonce === undefined ? 'no nonce' : `nonce ${JSON.stringify(document.nonce)}`;
    return refuse('wrong-nonce', `Azure attested data: it carries ${carried}, not the one the hub issued (${nonce}); IMDS may have answered from its cache — ${REFETCH}`);
  }
  const timeStamp = objectField(document, 'timeStamp');
  const createdOn = parseAzureTime(timeStamp?.createdOn);
  const expiresOn = parseAzureTime(timeStamp?.expiresOn);
  if (createdOn === undefined || expiresOn === undefined) return refuse('malformed', 'Azure attested data: timeStamp.createdOn and expiresOn are missing or not in Azure\'s "MM/DD/YY hh:mm:ss -0000" form');
  const timing = checkTimes(createdOn, expiresOn, trust, now);
  if (timing) return refuse('expired', `Azure attested data: ${timing}; ${REFETCH}`);
  const account = safeId(document.subscriptionId);
  const instanceId = safeId(document.vmId);
  if (!account || !instanceId) {
    return refuse('incomplete', 'Azure attested data: no subscriptionId or vmId; request it with api-version 2020-09-01 or newer from a VM made with Azure Resource Manager');
  }
  const identity: ProvedIdentity = { provider: 'azure', account, instanceId, issuedAt: new Date(createdOn).toISOString() };
  return { ok: true, identity };
}

function checkTimes(createdOn: number, expiresOn: number, trust: AzureTrust, now: number): string | undefined {
  const skew = trust.clockSkewMs ?? DEFAULT_SKEW_MS;
  const maxAge = trust.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  if (now > expiresOn + skew) return `it expired at ${new Date(expiresOn).toISOString()}`;
  if (createdOn > now + skew) return `it was created in the future (${new Date(createdOn).toISOString()}); check the hub's clock`;
  if (now - createdOn > maxAge + skew) return `it was created at ${new Date(createdOn).toISOString()}, more than ${Math.round(maxAge / 1000)} s ago`;
  return undefined;
}

/** Azure's `11/30/20 21:19:19 -0000` (month/day/two-digit year, UTC offset) as epoch milliseconds. */
export function parseAzureTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(value);
  if (!match) return undefined;
  const [month, day, year, hour, minute, second, sign, offsetHours, offsetMinutes] = match.slice(1) as [string, string, string, string, string, string, string, string, string];
  const local = Date.UTC(2000 + Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  const offset = (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000 * (sign === '-' ? -1 : 1);
  const date = new Date(local);
  // Date.UTC rolls 02/31 over into March: refuse dates that do not exist instead.
  if (date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) return undefined;
  return local - offset;
}
