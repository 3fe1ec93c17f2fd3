/**
 * A strict, minimal DER reader: just enough ASN.1 to walk a PKCS#7 / CMS SignedData (Azure's attested data) and the
 * few X.509 extensions the signer check reads (attest-x509-extensions.ts). Node verifies signatures and parses
 * certificates, but cannot open a PKCS#7 envelope nor show a certificate's key usage bits.
 *
 * Strict on purpose — this parses attacker-supplied bytes: definite lengths only (no BER indefinite form), one-byte
 * tags, every length checked against what is left. Nothing recurses on its own: callers walk the fixed shape they
 * expect, so nesting depth is bounded by the code, not by the input. Anything else throws {@link DerError}, which
 * callers turn into a `malformed` refusal: an envelope we cannot read exactly is never half-trusted.
 *
 * @example
 * const [contentType, content] = derChildren(readDer(bytes));
 * derOid(contentType); // '1.2.840.113549.1.7.2'
 */

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export interface DerNode {
  /** The identifier octet: class, constructed bit and tag number (e.g. 0x30 SEQUENCE, 0xa0 `[0]` constructed). */
  tag: number;
  /** The whole encoding, tag and length included (what a signature over this element covers). */
  raw: Buffer;
  /** The contents octets. */
  value: Buffer;
}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  sequence: 0x30,
  set: 0x31,
  /** `[0]` and `[1]` constructed: EXPLICIT tags, and IMPLICIT SETs such as CMS `certificates` and `signedAttrs`. */
  context0: 0xa0,
  context1: 0xa1,
  /** `[3]` constructed: a certificate's EXPLICIT `extensions`. */
  context3: 0xa3,
} as const;

/** Reads exactly one element that fills `bytes`; trailing bytes are an error. */
export function readDer(bytes: Buffer): DerNode {
  const { node, end } = readElement(bytes, 0);
  if (end !== bytes.length) throw new DerError(`${bytes.length - end} unexpected bytes after the outer element`);
  return node;
}

/** The elements inside a constructed element, in order. */
export function derChildren(node: DerNode): DerNode[] {
  if ((node.tag & 0x20) === 0) throw new DerError(`element with tag 0x${node.tag.toString(16)} is not constructed`);
  const children: DerNode[] = [];
  let offset = 0;
  while (offset < node.value.length) {
    const { node: child, end } = readElement(node.value, offset);
    children.push(child);
    offset = end;
  }
  return children;
}

/** The element's children, after checking its tag and that there are at least `min` of them. */
export function derExpect(node: DerNode | undefined, tag: number, what: string, min = 0): DerNode[] {
  const checked = derTagged(node, tag, what);
  const children = derChildren(checked);
  if (children.length < min) throw new DerError(`${what}: expected at least ${min} elements, got ${children.length}`);
  return children;
}

/** The element itself, after checking that it exists and has this tag. */
export function derTagged(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node) throw new DerError(`${what} is missing`);
  if (node.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${node.tag.toString(16)}`);
  return node;
}

/** An OBJECT IDENTIFIER in dotted form. */
export function derOid(node: DerNode | undefined, what = 'object identifier'): string {
  const bytes = derTagged(node, TAG.oid, what).value;
  if (bytes.length === 0 || (bytes[bytes.length - 1]! & 0x80) !== 0) throw new DerError(`${what} is truncated`);
  const arcs: number[] = [];
  let arc = 0;
  for (const byte of bytes) {
    if (arc > 2 ** 45) throw new DerError(`${what} has an arc too large`);
    arc = arc * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(arc);
      arc = 0;
    }
  }
  const first = arcs.shift()!;
  const [x, y] = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [x, y, ...arcs].join('.');
}

function readElement(bytes: Buffer, start: number): { node: DerNode; end: number } {
  if (start + 2 > bytes.length) throw new DerError('truncated element header');
  const tag = bytes[start]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not used by the formats read here');
  const first = bytes[start + 1]!;
  let length = first;
  let header = 2;
  if (first === 0x80) throw new DerError('indefinite length (BER) is not DER');
  if (first > 0x80) {
    const count = first & 0x7f;
    if (count > 4) throw new DerError('element length does not fit in 4 bytes');
    if (start + 2 + count > bytes.length) throw new DerError('truncated element length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + 2 + i]!;
    header += count;
  }
  const end = start + header + length;
  if (end > bytes.length) throw new DerError(`element claims ${length} bytes but only ${bytes.length - start - header} remain`);
  return { node: { tag, raw: bytes.subarray(start, end), value: bytes.subarray(start + header, end) }, end };
}
