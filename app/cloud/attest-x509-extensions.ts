/**
 * The X.509 extensions that decide what a certificate may sign, read from its DER: basic constraints, key usage,
 * extended key usage and the DNS names among its subject alternative names. Node's `X509Certificate` parses the
 * certificate but shows none of these exactly (no key usage bits; `ca` folds several cases into one boolean; the
 * alternative names come as display text that quotes and escapes).
 *
 * Reads attacker-supplied bytes with the strict DER reader: anything unexpected throws {@link DerError}, which the
 * verifier answers as a `malformed` refusal. An extension that appears twice is refused too (RFC 5280 §4.2: "MUST
 * NOT include more than one instance"): two key usages would leave "which one counts" to the parser.
 *
 * @example
 * const ext = readCertificateExtensions(new X509Certificate(pem).raw);
 * ext.keyUsage?.digitalSignature; // true, false, or undefined when the certificate has no key usage extension
 */
import { DerError, derExpect, derOid, derTagged, readDer, TAG, type DerNode } from './attest-der.js';

const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
} as const;

/** `dNSName [2] IA5String` inside GeneralNames: a primitive context-specific tag. */
const DNS_NAME_TAG = 0x82;

export interface CertificateExtensions {
  /** basicConstraints `cA`; false when the extension is absent. */
  ca: boolean;
  /** basicConstraints `pathLenConstraint`, when set. */
  pathLen?: number;
  /** Absent when the certificate has no key usage extension (then any use is allowed, RFC 5280 §4.2.1.3). */
  keyUsage?: { digitalSignature: boolean; keyCertSign: boolean; cRLSign: boolean };
  /** Key purpose OIDs; absent when the certificate has no extended key usage extension. */
  extKeyUsage?: string[];
  /** dNSName entries of subjectAltName, lower-cased; empty when there are none. */
  dnsNames: string[];
  /** OIDs of every extension marked critical. */
  critical: string[];
}

/** The extensions of the DER certificate `raw`; throws {@link DerError} if they cannot be read exactly. */
export function readCertificateExtensions(raw: Buffer): CertificateExtensions {
  const [tbs] = derExpect(readDer(raw), TAG.sequence, 'certificate', 3);
  const fields = derExpect(tbs, TAG.sequence, 'tbsCertificate', 6);
  const explicit = fields.find((field) => field.tag === TAG.context3);
  const result: CertificateExtensions = { ca: false, dnsNames: [], critical: [] };
  if (!explicit) return result;
  const [list, extra] = derExpect(explicit, TAG.context3, 'extensions', 1);
  if (extra) throw new DerError('extensions: more than one element under [3]');
  const seen = new Set<string>();
  for (const extension of derExpect(list, TAG.sequence, 'extensions')) {
    const parts = derExpect(extension, TAG.sequence, 'extension', 2);
    const id = derOid(parts[0], 'extension id');
    if (seen.has(id)) throw new DerError(`extension ${id} appears twice`);
    seen.add(id);
    const critical = parts.length === 3 ? readBoolean(parts[1], `extension ${id} critical flag`) : false;
    if (parts.length > 3) throw new DerError(`extension ${id} has ${parts.length} fields`);
    if (critical) result.critical.push(id);
    const octets = derTagged(parts[parts.length - 1], TAG.octetString, `extension ${id} value`).value;
    // Only the extensions read here are parsed; OpenSSL's verifier judges the others (an unknown critical one fails).
    if (!(Object.values(OID) as string[]).includes(id)) continue;
    const value = readDer(octets);
    if (id === OID.basicConstraints) Object.assign(result, readBasicConstraints(value));
    else if (id === OID.keyUsage) result.keyUsage = readKeyUsage(value);
    else if (id === OID.extKeyUsage) result.extKeyUsage = derExpect(value, TAG.sequence, 'extKeyUsage', 1).map((oid) => derOid(oid, 'key purpose'));
    else if (id === OID.subjectAltName) result.dnsNames = readDnsNames(value);
  }
  return result;
}

function readBasicConstraints(node: DerNode): Pick<CertificateExtensions, 'ca' | 'pathLen'> {
  const fields = derExpect(node, TAG.sequence, 'basicConstraints');
  let next = 0;
  const ca = fields[next]?.tag === TAG.boolean ? readBoolean(fields[next++], 'basicConstraints cA') : false;
  const pathLenNode = fields[next++];
  if (fields[next]) throw new DerError('basicConstraints has unexpected fields');
  if (!pathLenNode) return { ca };
  const bytes = derTagged(pathLenNode, TAG.integer, 'basicConstraints pathLenConstraint').value;
  if (bytes.length === 0 || bytes.length > 2 || (bytes[0]! & 0x80) !== 0) throw new DerError('basicConstraints pathLenConstraint is not a small non-negative integer');
  return { ca, pathLen: bytes.readUIntBE(0, bytes.length) };
}

function readKeyUsage(node: DerNode): NonNullable<CertificateExtensions['keyUsage']> {
  const bits = derTagged(node, TAG.bitString, 'keyUsage').value;
  if (bits.length < 2 || bits[0]! > 7) throw new DerError('keyUsage is not a bit string with named bits');
  // Bit 0 is the most significant bit of the first byte after the "unused bits" count.
  const bit = (n: number) => ((bits[1 + (n >> 3)] ?? 0) & (0x80 >> (n & 7))) !== 0;
  return { digitalSignature: bit(0), keyCertSign: bit(5), cRLSign: bit(6) };
}

function readDnsNames(node: DerNode): string[] {
  const names: string[] = [];
  for (const general of derExpect(node, TAG.sequence, 'subjectAltName', 1)) {
    // Other name forms (e-mail, URI, IP address, directory name…) are read over, not interpreted.
    if (general.tag !== DNS_NAME_TAG) continue;
    const text = general.value.toString('latin1');
    // IA5String is 7-bit ASCII; anything else is not a name a signer check can compare.
    if (!/^[\x20-\x7e]*$/.test(text)) throw new DerError('a dNSName in subjectAltName is not ASCII');
    names.push(text.toLowerCase());
  }
  return names;
}

function readBoolean(node: DerNode | undefined, what: string): boolean {
  const value = derTagged(node, TAG.boolean, what).value;
  if (value.length !== 1) throw new DerError(`${what} is not a one-byte BOOLEAN`);
  return value[0] !== 0;
}
