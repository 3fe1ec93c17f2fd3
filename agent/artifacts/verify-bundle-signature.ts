/**
 * The cryptographic half of checking one build attestation, done by `@sigstore/verify` (never by hand): the bundle
 * parses as a Sigstore bundle of a version we know, holds a DSSE envelope signed by a certificate (not a bare key); the
 * leaf chains to a CA of the trust root and is valid at a verified signing time; the transparency log entry is
 * verified with the root's log key and matches the envelope; the envelope's signature verifies with the leaf's key.
 * What the certificate and the statement *say* is checked afterwards, by the callers.
 *
 * @example
 * const verified = verifyBundleSignature(bundleJson, trustRoot); // throws BE_PROVENANCE saying which check failed
 */
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { toSignedEntity, Verifier, type Signer } from '@sigstore/verify';
import { BitEnvoyError } from '../../lib/errors.js';
import type { TrustRoot } from './load-trust-root.js';

/** Bundle versions GitHub's attestations API has served; 0.1 (no inclusion proof) and unknown ones are refused. */
const KNOWN_MEDIA_TYPES = [
  'application/vnd.dev.sigstore.bundle.v0.3+json',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
];

export interface VerifiedBundle {
  signer: Signer;
  /** The DSSE envelope's type and payload: bytes covered by the verified signature. */
  payloadType: string;
  payload: Buffer;
  logIndex?: string;
}

export function verifyBundleSignature(json: unknown, trustRoot: TrustRoot): VerifiedBundle {
  const bundle = parseBundle(json);
  if (bundle.content.$case !== 'dsseEnvelope') {
    throw refused('it signs a message digest, not a DSSE envelope with an in-toto statement; it is not a build attestation');
  }
  if (bundle.verificationMaterial.content.$case === 'publicKey') {
    throw refused('it is signed by a bare public key, not by a Fulcio certificate that names the workflow; it is not a GitHub build attestation');
  }
  const entity = toEntity(bundle);
  const failures: string[] = [];
  for (const [i, root] of trustRoot.roots.entries()) {
    const verifier = new Verifier(root.material, { tlogThreshold: 1, ctlogThreshold: root.ctlogThreshold, timestampThreshold: 1 });
    try {
      const signer = verifier.verify(entity);
      const envelope = bundle.content.dsseEnvelope;
      return { signer, payloadType: envelope.payloadType, payload: Buffer.from(envelope.payload), logIndex: bundle.verificationMaterial.tlogEntries[0]?.logIndex };
    } catch (err) {
      const reason = explain(err, trustRoot.path);
      failures.push(trustRoot.roots.length > 1 ? `under root ${i + 1}: ${reason}` : reason);
    }
  }
  const unusable = trustRoot.unusable.length > 0 ? ` (not tried: ${trustRoot.unusable.join('; ')})` : '';
  throw refused(`${failures.join('; ')}${unusable}`);
}

function parseBundle(json: unknown): Bundle {
  const mediaType = typeof json === 'object' && json !== null ? (json as { mediaType?: unknown }).mediaType : undefined;
  if (typeof mediaType !== 'string' || !KNOWN_MEDIA_TYPES.includes(mediaType)) {
    throw refused(`it is not a Sigstore bundle of a known version: mediaType ${JSON.stringify(mediaType)}, expected one of ${KNOWN_MEDIA_TYPES.join(', ')}`);
  }
  try {
    return bundleFromJSON(json);
  } catch (err) {
    const fields = (err as { fields?: unknown }).fields;
    const which = Array.isArray(fields) && fields.length > 0 ? ` (${fields.join(', ')})` : '';
    throw refused(`it does not parse as a Sigstore bundle: ${(err as Error).message}${which}`);
  }
}

/** The signed entity; certificates, timestamps and bodies that do not even parse are refused here. */
function toEntity(bundle: Bundle): ReturnType<typeof toSignedEntity> {
  try {
    return toSignedEntity(bundle);
  } catch (err) {
    throw refused(`its certificate or timestamps do not parse: ${(err as Error).message}`);
  }
}

/** What a `@sigstore/verify` error code means for an operator, and what to do about it. */
const EXPLANATIONS: Record<string, string> = {
  SIGNATURE_ERROR: 'the signature check failed: the DSSE envelope does not verify with the certificate\'s key, so the statement was changed after signing',
  CERTIFICATE_ERROR: 'the certificate check failed: the signing certificate does not chain to a certificate authority of the trust root valid at the signing time, or its embedded SCT does not verify with a CT log of the trust root',
  TIMESTAMP_ERROR: 'the signing-time check failed: the bundle has no signing time verified by a transparency log or timestamp authority of the trust root',
  TLOG_ERROR: 'the transparency-log check failed: the bundle carries no verifiable entry of a transparency log of the trust root',
  TLOG_BODY_ERROR: 'the transparency-log check failed: the log entry records another signature or payload than the bundle holds',
  TLOG_INCLUSION_PROMISE_ERROR: 'the transparency-log check failed: the log entry\'s signed entry timestamp does not verify with a log key of the trust root',
  TLOG_INCLUSION_PROOF_ERROR: 'the transparency-log check failed: the log entry\'s inclusion proof or checkpoint does not verify with a log key of the trust root',
  TLOG_MISSING_INCLUSION_ERROR: 'the transparency-log check failed: the log entry has neither an inclusion promise nor an inclusion proof',
};

function explain(err: unknown, path: string): string {
  const code = (err as { code?: unknown }).code;
  const detail = [err, (err as { cause?: unknown }).cause].filter((e): e is Error => e instanceof Error).map((e) => e.message).join(': ');
  const meaning = typeof code === 'string' ? EXPLANATIONS[code] : undefined;
  const altered = code === 'SIGNATURE_ERROR' || code === 'TLOG_BODY_ERROR';
  const fix = altered
    ? 'the bundle was altered after signing (by whoever handed it on); compare it with the one GitHub serves at GET /repos/{owner}/{repo}/attestations/sha256:{digest}'
    : `if this attestation is genuine, the trust root ${path} may be out of date: refresh it with \`gh attestation trusted-root\``;
  if (!meaning) return `the verifier failed (${detail}); ${fix}`;
  return `${meaning} (sigstore ${String(code)}: ${detail}); ${fix}`;
}

function refused(reason: string): BitEnvoyError {
  return new BitEnvoyError('BE_PROVENANCE', reason);
}
