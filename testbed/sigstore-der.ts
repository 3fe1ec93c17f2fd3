/**
 * The few DER pieces the Sigstore test material needs that the `openssl` command cannot write from a config file
 * without quoting trouble: Fulcio's UTF8String extension values, a URI subjectAltName, an OCTET STRING around an SCT
 * list, and slicing the to-be-signed part out of a certificate (the bytes a CT log signs). Values go into openssl's
 * extension config as `DER:<hex>`, so no character of a repository or workflow name is ever parsed by openssl.
 *
 * @example
 * const issuer = derTlv(0x0c, Buffer.from('https://token.actions.githubusercontent.com')); // a UTF8String
 */

/** One DER tag-length-value with a definite length (short or long form). */
export function derTlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  if (length < 0x80) return Buffer.concat([Buffer.from([tag, length]), content]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.concat([Buffer.from([tag, 0x80 | bytes.length, ...bytes]), content]);
}

/** The extension value Fulcio writes for OIDs 1.3.6.1.4.1.57264.1.8 to .22: a DER UTF8String. */
export function utf8StringDer(value: string): Buffer {
  return derTlv(0x0c, Buffer.from(value, 'utf8'));
}

/** A subjectAltName extension value holding one URI (GeneralName [6] IA5String), as Fulcio writes for workflows. */
export function uriSanDer(uri: string): Buffer {
  return derTlv(0x30, derTlv(0x86, Buffer.from(uri, 'ascii')));
}

/** The TBSCertificate of a DER certificate: the first element of its outer SEQUENCE, header included. */
export function tbsCertificateDer(certificate: Buffer): Buffer {
  const outer = readHeader(certificate, 0);
  const tbs = readHeader(certificate, outer.contentStart);
  return certificate.subarray(outer.contentStart, tbs.contentStart + tbs.length);
}

function readHeader(der: Buffer, offset: number): { contentStart: number; length: number } {
  const first = der[offset + 1];
  if (first === undefined) throw new Error('DER: truncated header');
  if (first < 0x80) return { contentStart: offset + 2, length: first };
  const count = first & 0x7f;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + (der[offset + 2 + i] ?? 0);
  return { contentStart: offset + 2 + count, length };
}

/** The canonical JSON a transparency log signs and hashes: sorted keys, no spaces (enough for the objects we log). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
