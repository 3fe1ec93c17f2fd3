/**
 * Verifies Azure IMDS attested data: the response of `/metadata/attested/document?api-version=…&nonce=<n>`,
 * `{ "encoding": "pkcs7", "signature": "<base64 PKCS#7>" }`, whose envelope carries the signed JSON (`nonce`, `vmId`,
 * `subscriptionId`, `timeStamp.createdOn/expiresOn`, …) and the signer's certificate.
 *
 * Checked, all fail-closed: the envelope parses exactly (attest-cms.ts); the signature verifies with a certificate in
 * it; that certificate is for `metadata.azure.com` or a subdomain (or the configured names: sovereign clouds use
 * `metadata.azure.us`, `metadata.azure.cn`) and chains to a root the operator configured, through certificates in the
 * envelope or configured intermediates (Azure's envelope omits them; Azure documents pinning them); the nonce is the
 * one the hub issued to this agent; the document is not expired. Azure's nonce is a 10-digit string, so the hub's
 * Azure nonces are too (attest-nonce.ts). IMDS may answer from a cache with an older nonce: that is refused as a wrong
 * nonce, and the agent simply asks again.
 *
 * The attested data carries no region: the identity is subscription + vmId, and discovery supplies the location.
 *
 * @example
 * const trust = { roots: readPemCertificates(rootsPem, 'BITENVOY_AZURE_ROOTS'), intermediates: readPemCertificates(…) };
 * verifyAzureIdentity({ encoding: 'pkcs7', signature }, trust, { nonce: '0123456789' });
 */
import type { X509Certificate } from 'node:crypto';
import type { ProvedIdentity } from './cloud-instance.js';
import { checkSignedData, readSignedData, type SignedData } from './attest-cms.js';
import { DerError } from './attest-der.js';
import { decodeBase64, EvidenceFormatError, objectField, parseJsonObject, safeId } from './attest-encoding.js';
import { refuse, type Verified } from './attest-refusal.js';
import { chainToRoot, dnsNamesOf, name } from './attest-x509-chain.js';

export interface AzureAttestedData {
  encoding?: string;
  /** Base64 of the PKCS#7 SignedData envelope. */
  signature: string;
}

export interface AzureTrust {
  /** Root certificates the signer must chain to (public Azure: the roots Microsoft documents for IMDS). */
  roots: X509Certificate[];
  /** Pinned intermediates (Azure's envelope carries only the signer certificate). */
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

const MAX_ENVELOPE_BYTES = 16 * 1024;
const DEFAULT_SIGNER_NAMES = ['metadata.azure.com'];
const DEFAULT_SKEW_MS = 60_000;
const DEFAULT_MAX_AGE_MS = 10 * 60_000;
const REFETCH = 'ask the hub for a new nonce and fetch /metadata/attested/document with it again';

export function verifyAzureIdentity(attested: AzureAttestedData, trust: AzureTrust, check: AzureCheck): Verified {
  let signed: SignedData;
  try {
    if (typeof attested !== 'object' || attested === null) throw new EvidenceFormatError('no attested data was sent');
    if (attested.encoding !== undefined && attested.encoding !== 'pkcs7') throw new EvidenceFormatError(`encoding ${JSON.stringify(attested.encoding)} is not pkcs7`);
    signed = readSignedData(decodeBase64(attested.signature, 'the signature', MAX_ENVELOPE_BYTES));
  } catch (err) {
    if (err instanceof EvidenceFormatError || err instanceof DerError) return refuse('malformed', `Azure attested data: ${err.message}; send the IMDS response as it is`);
    throw err;
  }
  const now = check.now ?? Date.now();
  const pool = [...signed.certificates, ...(trust.intermediates ?? [])];
  const checked = checkSignedData(signed, pool);
  if ('problem' in checked) return refuse('tampered', `Azure attested data: ${checked.problem}; ${REFETCH}`);
  const signerProblem = checkSigner(checked.signer, pool, trust, now);
  if (signerProblem) return refuse('wrong-signer', `Azure attested data: ${signerProblem}`);
  return identityOf(signed.content, trust, check.nonce, now);
}

function checkSigner(signer: X509Certificate, pool: X509Certificate[], trust: AzureTrust, now: number): string | undefined {
  const allowed = trust.signerNames ?? DEFAULT_SIGNER_NAMES;
  const names = dnsNamesOf(signer);
  if (!names.some((n) => allowed.some((suffix) => n === suffix || n.endsWith(`.${suffix}`)))) {
    return `signed by ${name(signer)}, which is not a certificate for ${allowed.join(' or ')}: only Azure's metadata service may sign attested data`;
  }
  const chain = chainToRoot(signer, pool, trust.roots, now);
  if ('problem' in chain) {
    return `signer ${chain.problem}; if Azure rotated its intermediate certificates, update the hub's pinned Azure intermediates and roots`;
  }
  return undefined;
}

function identityOf(content: Buffer, trust: AzureTrust, nonce: string, now: number): Verified {
  let document: Record<string, unknown>;
  try {
    document = parseJsonObject(content.toString('utf8'), 'the signed document');
  } catch (err) {
    return refuse('malformed', `Azure attested data: ${(err as Error).message}`);
  }
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
