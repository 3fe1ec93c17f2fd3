/**
 * A certificate-transparency log's promise (an SCT, RFC 6962 §3.2) for a test Fulcio leaf, the way Fulcio gets one:
 * the log signs the leaf's to-be-signed part (without the SCT extension) together with the hash of the issuer's key,
 * and the SCT list goes into the final certificate's 1.3.6.1.4.1.11129.2.4.2 extension.
 *
 * @example
 * const extension = signPrecertificate({ tbs, issuerSpki: intermediate.spki, log: ctlog, timestamp: new Date() });
 */
import { createHash, sign } from 'node:crypto';
import type { KeyPair } from './sigstore-pki.js';
import { derTlv } from './sigstore-der.js';

/** OID of the embedded SCT list extension. */
export const SCT_LIST_OID = '1.3.6.1.4.1.11129.2.4.2';

/** The log id an SCT names: SHA-256 of the log's DER public key. */
export function logIdOf(log: KeyPair): Buffer {
  return createHash('sha256').update(log.spki).digest();
}

/** The extension value (a DER OCTET STRING around the TLS-encoded SCT list) holding one SCT by `log`. */
export function signPrecertificate(options: { tbs: Buffer; issuerSpki: Buffer; log: KeyPair; timestamp: Date }): Buffer {
  const issuerKeyHash = createHash('sha256').update(options.issuerSpki).digest();
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigUInt64BE(BigInt(options.timestamp.getTime()));
  const signed = Buffer.concat([
    Buffer.from([0, 0]), // version v1, signature type certificate_timestamp
    timestamp,
    uint(1, 2), // entry type precert_entry
    issuerKeyHash,
    uint(options.tbs.length, 3),
    options.tbs,
    uint(0, 2), // no extensions
  ]);
  const signature = sign('sha256', signed, options.log.privateKey);
  const sct = Buffer.concat([
    Buffer.from([0]),
    logIdOf(options.log),
    timestamp,
    uint(0, 2),
    Buffer.from([4, 3]), // sha256, ecdsa
    uint(signature.length, 2),
    signature,
  ]);
  const list = Buffer.concat([uint(sct.length + 2, 2), uint(sct.length, 2), sct]);
  return derTlv(0x04, list);
}

function uint(value: number, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  out.writeUIntBE(value, 0, bytes);
  return out;
}
