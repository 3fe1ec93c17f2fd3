/**
 * One 512-byte tar header block — ustar, GNU and plain v7 — and the pax extended-header records that override it.
 * Decoding only; what a header may name is decided by the release writer.
 *
 * @example
 * if (tarChecksumMatches(block)) console.log(parseTarHeader(block, 0, 'site.tar').name);
 */
import { refuseArchive } from './artifact-error.js';

export const BLOCK = 512;

export interface TarHeader {
  name: string;
  mode: number;
  size: number;
  /** The type flag character (`'0'` file, `'5'` directory, `'x'` pax…); `'\0'` reads as `'0'`. */
  type: string;
  linkname: string;
}

const CORRUPT_FIX = 'download or build the artifact again (it is not a tar archive this agent can read)';

/** A NUL-terminated text field. */
function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

/** An octal field (NUL- or space-terminated), or GNU's base-256 form for values past 8 GiB; NaN when invalid. */
function numeric(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  if ((field[0]! & 0x80) !== 0) {
    if (field[0] === 0xff) return NaN; // negative
    let value = field[0]! & 0x7f;
    for (const byte of field.subarray(1)) {
      value = value * 256 + byte;
      if (value > Number.MAX_SAFE_INTEGER) return NaN;
    }
    return value;
  }
  const digits = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (digits === '') return 0;
  return /^[0-7]+$/.test(digits) ? parseInt(digits, 8) : NaN;
}

/** True for an all-zero block: the end-of-archive marker. */
export function isZeroBlock(block: Buffer): boolean {
  return block.length === BLOCK && block.every((byte) => byte === 0);
}

/** True when the header's stored checksum matches its bytes (unsigned, or the signed sum some old tars wrote). */
export function tarChecksumMatches(block: Buffer): boolean {
  if (block.length < BLOCK) return false;
  const stored = numeric(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** Decodes a header whose checksum matched; `offset` (where it starts in the tar stream) is for messages. */
export function parseTarHeader(block: Buffer, offset: number, archive: string): TarHeader {
  const mode = numeric(block, 100, 8);
  const size = numeric(block, 124, 12);
  if (Number.isNaN(mode) || Number.isNaN(size)) {
    throw refuseArchive(archive, `has a corrupt tar header at byte ${offset} (its mode or size is not a number)`, CORRUPT_FIX);
  }
  const magic = block.toString('latin1', 257, 263);
  let name = text(block, 0, 100);
  // POSIX ustar splits long names into prefix + name; GNU's header keeps other fields there and uses type L instead.
  if (magic === 'ustar\0') {
    const prefix = text(block, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const flag = block.toString('latin1', 156, 157);
  return { name, mode, size, type: flag === '\0' ? '0' : flag, linkname: text(block, 157, 100) };
}

/** The records of a pax extended header (`"<length> <key>=<value>\n"` each); `where` names it in refusals. */
export function parsePaxRecords(data: Buffer, archive: string, where: string): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // padding some writers leave after the last record
    const space = data.indexOf(0x20, at);
    const digits = space === -1 ? '' : data.toString('latin1', at, space);
    const length = /^[1-9][0-9]{0,8}$/.test(digits) ? Number(digits) : NaN;
    const end = at + length;
    if (!Number.isInteger(length) || length <= space - at || end > data.length || data[end - 1] !== 0x0a) {
      throw refuseArchive(archive, `has a corrupt pax extended header ${where}`, CORRUPT_FIX);
    }
    const record = data.toString('utf8', space + 1, end - 1);
    const equals = record.indexOf('=');
    if (equals <= 0) throw refuseArchive(archive, `has a corrupt pax extended header ${where} (a record without \`key=\`)`, CORRUPT_FIX);
    records.set(record.slice(0, equals), record.slice(equals + 1));
    at = end;
  }
  return records;
}
