/**
 * Verifies an EC2 instance identity document: the JSON at IMDSv2 `/latest/dynamic/instance-identity/document`,
 * signed (RSA, SHA-256) by the base64 text at `/latest/dynamic/instance-identity/signature`, against AWS's published
 * "RSA" public certificates for the base64 signature (one per region or partition; the hub is given them as a PEM
 * bundle — it cannot fetch them, and should not: they are trust anchors).
 *
 * The signature covers the exact bytes IMDS returned, so the agent sends the document as the text it read, and the
 * hub verifies those bytes before parsing them: a document re-serialised by anyone (whitespace, key order) fails.
 *
 * Replay — what this can and cannot prove. The document has no nonce and no signing time: it is the same signed text
 * for as long as the instance runs, readable by any process on it, and valid forever to anyone who copies it. So:
 * - The evidence never authenticates an agent. Only an agent that already holds its own credential (from a one-time
 *   enrollment token) may present it; it adds "runs on instance X" to an agent the hub already knows.
 * - One instance, one agent: the binding registry (identity-bindings.ts) gives each instance to the first agent that
 *   proves it and refuses every other, loudly, naming the holder. A thief who copies a document of an instance that
 *   is already bound gets nothing; the rightful agent is never silently displaced.
 * - `pendingTime` (the instance's last launch/start, signed) is the evidence's time: re-attestation with an older one
 *   than the hub accepted is refused as a replay, and `firstBindWithinMs` can require a first binding to happen soon
 *   after launch (fleets whose agent enrolls at boot), which shrinks the window in which a copied document of a not
 *   yet bound instance could be used to bind first.
 * Limit: within that window an enrolled agent elsewhere that holds a copied document can still bind an unbound
 * instance first; the real agent is then refused with the holder's name, so it is visible, not silent. Proof of
 * freshness needs a challenge the instance signs, e.g. a SigV4-signed `sts:GetCallerIdentity` carrying the hub nonce,
 * which the hub would forward to STS (network access the hub does not assume here).
 *
 * @example
 * const trust = { certificates: readAwsCertificates(pem, 'BITENVOY_AWS_IDENTITY_CERTS') };
 * verifyAwsIdentity({ document, signature }, trust); // { ok: true, identity: { provider: 'aws', account: '1234…', … } }
 */
import { constants, createHash, publicDecrypt, verify, type X509Certificate } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import type { ProvedIdentity } from './cloud-instance.js';
import { decodeBase64, EvidenceFormatError, parseJsonObject, safeId } from './attest-encoding.js';
import { refuse, type Verified } from './attest-refusal.js';
import { readPemCertificates } from './attest-x509-chain.js';

export interface AwsEvidence {
  /** The identity document exactly as IMDS returned it (not re-serialised). */
  document: string;
  /** The base64 text from `/latest/dynamic/instance-identity/signature`. */
  signature: string;
}

export interface AwsTrust {
  /** AWS's RSA certificates for the base64 signature, for every region and partition the hub serves. */
  certificates: X509Certificate[];
}

export interface AwsCheck {
  now?: number;
  /** Refuse a document whose instance launched longer ago than this (set it for a first binding only). */
  launchedWithinMs?: number;
}

const MAX_DOCUMENT_BYTES = 8 * 1024;
const MAX_SIGNATURE_BYTES = 1024;
const REFETCH = 'send the document and signature exactly as IMDS returned them';

/**
 * AWS's certificates from a PEM bundle. Only RSA ones verify the base64 signature: AWS's page also lists a DSA
 * certificate (for the PKCS#7 endpoint) per region, and pasting that one is an easy mistake to make.
 */
export function readAwsCertificates(pem: string, where: string): X509Certificate[] {
  const certificates = readPemCertificates(pem, where);
  const notRsa = certificates.findIndex((cert) => cert.publicKey.asymmetricKeyType !== 'rsa');
  if (notRsa >= 0) {
    throw new BitEnvoyError('BE_USAGE', `${where}: certificate ${notRsa + 1} has a ${certificates[notRsa]!.publicKey.asymmetricKeyType} key; use AWS's "RSA" certificate of each region (the one for the base64-encoded signature), not the DSA one`);
  }
  return certificates;
}

export function verifyAwsIdentity(evidence: AwsEvidence, trust: AwsTrust, check: AwsCheck = {}): Verified {
  let signature: Buffer;
  try {
    if (typeof evidence !== 'object' || evidence === null) throw new EvidenceFormatError('no evidence was sent');
    if (typeof evidence.document !== 'string' || !evidence.document) throw new EvidenceFormatError('the identity document is missing');
    if (Buffer.byteLength(evidence.document) > MAX_DOCUMENT_BYTES) throw new EvidenceFormatError(`the identity document is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    signature = decodeBase64(evidence.signature, 'the identity document signature', MAX_SIGNATURE_BYTES);
  } catch (err) {
    if (err instanceof EvidenceFormatError) return refuse('malformed', `AWS identity evidence: ${err.message}; ${REFETCH}`);
    throw err;
  }
  const signed = Buffer.from(evidence.document, 'utf8');
  if (!trust.certificates.some((cert) => verifiesWith(cert, signed, signature))) return signatureRefusal(signed, signature, trust);
  return identityOf(evidence.document, check);
}

/**
 * Why no configured certificate verifies. RSA lets us tell the two cases apart: if one of the trusted keys recovers a
 * well-formed digest from the signature, that key signed *something* — just not these bytes.
 */
function signatureRefusal(signed: Buffer, signature: Buffer, trust: AwsTrust): Verified {
  const digest = createHash('sha256').update(signed).digest();
  for (const cert of trust.certificates) {
    const recovered = recoverDigestInfo(cert, signature);
    if (recovered && !recovered.subarray(-32).equals(digest)) {
      return refuse('tampered', `the AWS identity document was changed after AWS signed it (the signature is AWS's, the bytes are not what it signed); ${REFETCH}, without re-formatting the JSON`);
    }
  }
  return refuse(
    'wrong-signer',
    'the AWS identity document signature does not verify with any AWS certificate the hub is configured with: it was not signed by AWS, or the hub lacks the RSA certificate of this region or partition — add it from AWS\'s "public certificates for instance identity document signatures" page',
  );
}

function verifiesWith(cert: X509Certificate, signed: Buffer, signature: Buffer): boolean {
  return cert.publicKey.asymmetricKeyType === 'rsa' && verify('sha256', signed, cert.publicKey, signature);
}

function recoverDigestInfo(cert: X509Certificate, signature: Buffer): Buffer | undefined {
  if (cert.publicKey.asymmetricKeyType !== 'rsa') return undefined;
  try {
    return publicDecrypt({ key: cert.publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return undefined;
  }
}

function identityOf(document: string, check: AwsCheck): Verified {
  let fields: Record<string, unknown>;
  try {
    fields = parseJsonObject(document, 'the AWS identity document');
  } catch (err) {
    return refuse('malformed', `${(err as Error).message}; ${REFETCH}`);
  }
  const account = safeId(fields.accountId);
  const instanceId = safeId(fields.instanceId);
  const region = safeId(fields.region);
  const missing = [!account && 'accountId', !instanceId && 'instanceId', !region && 'region'].filter(Boolean);
  if (!account || !instanceId || !region) {
    return refuse('incomplete', `the AWS identity document has no usable ${missing.join(', ')}; it is signed by AWS but not an EC2 instance identity document the hub can bind`);
  }
  const launched = typeof fields.pendingTime === 'string' ? Date.parse(fields.pendingTime) : NaN;
  const now = check.now ?? Date.now();
  if (check.launchedWithinMs !== undefined && !(now - launched <= check.launchedWithinMs)) {
    return refuse(
      'expired',
      `instance ${instanceId} last started at ${fields.pendingTime ?? '(no pendingTime)'}, longer ago than the ${Math.round(check.launchedWithinMs / 60_000)} min the hub allows for a first binding; enroll the agent at boot, or have an operator raise the limit`,
    );
  }
  const identity: ProvedIdentity = { provider: 'aws', account, instanceId, region };
  const zone = safeId(fields.availabilityZone);
  if (zone) identity.zone = zone;
  if (Number.isFinite(launched)) identity.issuedAt = new Date(launched).toISOString();
  return { ok: true, identity };
}
