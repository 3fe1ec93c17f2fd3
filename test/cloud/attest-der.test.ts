/** The strict DER reader under the PKCS#7 parser: well-formed input reads exactly; anything else throws, never guesses. */
import { describe, expect, it } from 'vitest';
import { derChildren, derOid, DerError, readDer, TAG } from '../../app/cloud/attest-der.js';

const hex = (text: string) => Buffer.from(text.replace(/\s/g, ''), 'hex');

describe('readDer', () => {
  it('reads nested elements, short and long lengths, and object identifiers', () => {
    const long = Buffer.concat([hex('04 81 80'), Buffer.alloc(0x80, 0x61)]);
    const node = readDer(Buffer.concat([hex('30 81 8e 06 09 2a 86 48 86 f7 0d 01 07 02'), long]));
    const [oid, octets] = derChildren(node);
    expect(node.tag).toBe(TAG.sequence);
    expect(derOid(oid)).toBe('1.2.840.113549.1.7.2');
    expect(octets!.value).toEqual(Buffer.alloc(0x80, 0x61));
  });

  it.each([
    ['trailing bytes', '30 00 00', /unexpected bytes after/],
    ['a length past the end', '30 05 02 01 00', /claims 5 bytes/],
    ['an indefinite length (BER)', '30 80 00 00', /indefinite length/],
    ['a 5-byte length', '30 85 01 00 00 00 00', /does not fit in 4 bytes/],
    ['a truncated long length', '30 82 01', /truncated element length/],
    ['a multi-byte tag', '1f 81 00 00', /multi-byte tags/],
    ['a lone byte', '30', /truncated element header/],
  ])('refuses %s', (_name, bytes, message) => {
    expect(() => readDer(hex(bytes))).toThrow(DerError);
    expect(() => readDer(hex(bytes))).toThrow(message);
  });

  it('refuses to look inside a primitive element, and a truncated object identifier', () => {
    expect(() => derChildren(readDer(hex('04 01 00')))).toThrow(/not constructed/);
    expect(() => derOid(readDer(hex('06 02 2a 86')))).toThrow(/truncated/);
    expect(() => derOid(readDer(hex('04 01 00')))).toThrow(/expected tag 0x6/);
  });
});
