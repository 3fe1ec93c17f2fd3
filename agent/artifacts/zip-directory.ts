/**
 * A zip's central directory: found from the end-of-central-directory record (and its zip64 form), then read one
 * record at a time through a small window on the file, so a directory of 100,000 entries is never held whole.
 *
 * @example
 * const file = await FileWindow.open('site.zip');
 * for await (const record of readCentralDirectory(file, 'site.zip')) console.log(record.name);
 */
import { open, type FileHandle } from 'node:fs/promises';
import { refuseArchive } from './artifact-error.js';

const WINDOW = 64 * 1024;
const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const MAX_COMMENT = 0xffff;
const AGAIN = 'download or build the artifact again';

/** Positioned reads of a file through a cached window: the central directory is read record by record. */
export class FileWindow {
  readonly handle: FileHandle;
  readonly size: number;
  #start = 0;
  #window = Buffer.alloc(0);

  private constructor(handle: FileHandle, size: number) {
    this.handle = handle;
    this.size = size;
  }

  static async open(file: string): Promise<FileWindow> {
    const handle = await open(file, 'r');
    try {
      return new FileWindow(handle, (await handle.stat()).size);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** `length` bytes at `offset`; fewer when the file ends first. */
  async bytes(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(offset + length, this.size);
    if (offset < this.#start || end > this.#start + this.#window.length) {
      const buffer = Buffer.alloc(Math.max(0, Math.min(Math.max(length, WINDOW), this.size - offset)));
      const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, offset);
      this.#start = offset;
      this.#window = buffer.subarray(0, bytesRead);
    }
    return this.#window.subarray(offset - this.#start, Math.max(offset - this.#start, end - this.#start));
  }
}

export interface ZipRecord {
  /** The name's bytes, to compare with the local header's. */
  rawName: Buffer;
  madeBy: number;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  externalAttributes: number;
}

export interface ZipEnd {
  entries: number;
  directoryOffset: number;
  directorySize: number;
}

function safe(value: bigint, archive: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw refuseArchive(archive, 'declares a zip64 size or offset too large to be real', AGAIN);
  return Number(value);
}

/** The end records: where the central directory is, how big, how many entries (zip64 when the archive needs it). */
export async function readZipEnd(file: FileWindow, archive: string): Promise<ZipEnd> {
  const tailStart = Math.max(0, file.size - (22 + MAX_COMMENT));
  const tail = Buffer.from(await file.bytes(tailStart, file.size - tailStart));
  // The last record whose comment runs exactly to the end of the file: a signature inside a comment does not fit.
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD && i + 22 + tail.readUInt16LE(i + 20) === tail.length) {
      at = i;
      break;
    }
  }
  if (at === -1) throw refuseArchive(archive, 'has no end-of-central-directory record (the zip is truncated or corrupt)', AGAIN);
  const eocdOffset = tailStart + at;
  if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 6) !== 0) {
    throw refuseArchive(archive, 'is a multi-part (spanned) zip', 'build it as one file');
  }
  let end: ZipEnd = { entries: tail.readUInt16LE(at + 10), directorySize: tail.readUInt32LE(at + 12), directoryOffset: tail.readUInt32LE(at + 16) };
  let limit = eocdOffset;
  const locator = eocdOffset >= 20 ? await file.bytes(eocdOffset - 20, 20) : Buffer.alloc(0);
  if (locator.length === 20 && locator.readUInt32LE(0) === ZIP64_LOCATOR) {
    const recordOffset = safe(locator.readBigUInt64LE(8), archive);
    const record = Buffer.from(await file.bytes(recordOffset, 56));
    if (record.length < 56 || record.readUInt32LE(0) !== ZIP64_EOCD || recordOffset + 56 > eocdOffset - 20) {
      throw refuseArchive(archive, 'has a zip64 locator that points at no zip64 end record (corrupt)', AGAIN);
    }
    if (record.readUInt32LE(16) !== 0 || record.readUInt32LE(20) !== 0) throw refuseArchive(archive, 'is a multi-part (spanned) zip', 'build it as one file');
    end = { entries: safe(record.readBigUInt64LE(32), archive), directorySize: safe(record.readBigUInt64LE(40), archive), directoryOffset: safe(record.readBigUInt64LE(48), archive) };
    limit = recordOffset;
  }
  if (end.directoryOffset + end.directorySize > limit) {
    throw refuseArchive(archive, 'declares a central directory beyond its end records (truncated or corrupt)', AGAIN);
  }
  return end;
}

/** The central directory's records in order; refuses one that is cut short, and a count that disagrees. */
export async function* readCentralDirectory(file: FileWindow, end: ZipEnd, archive: string): AsyncGenerator<ZipRecord, void, undefined> {
  const corrupt = (what: string) => refuseArchive(archive, `has a corrupt central directory (${what})`, AGAIN);
  const stop = end.directoryOffset + end.directorySize;
  let at = end.directoryOffset;
  let count = 0;
  while (at < stop) {
    const fixed = await file.bytes(at, 46);
    if (fixed.length < 46 || at + 46 > stop || fixed.readUInt32LE(0) !== CENTRAL) throw corrupt(`no record at byte ${at}`);
    const nameLength = fixed.readUInt16LE(28);
    const extraLength = fixed.readUInt16LE(30);
    const recordLength = 46 + nameLength + extraLength + fixed.readUInt16LE(32);
    if (at + recordLength > stop) throw corrupt(`a record at byte ${at} runs past the directory's end`);
    const record = Buffer.from(await file.bytes(at, recordLength));
    if (record.length < recordLength) throw corrupt(`a record at byte ${at} is cut short`);
    if (record.readUInt16LE(34) !== 0 && record.readUInt16LE(34) !== 0xffff) throw refuseArchive(archive, 'is a multi-part (spanned) zip', 'build it as one file');
    const entry: ZipRecord = {
      rawName: record.subarray(46, 46 + nameLength),
      madeBy: record.readUInt16LE(4),
      flags: record.readUInt16LE(8),
      method: record.readUInt16LE(10),
      crc: record.readUInt32LE(16),
      compressedSize: record.readUInt32LE(20),
      size: record.readUInt32LE(24),
      localOffset: record.readUInt32LE(42),
      externalAttributes: record.readUInt32LE(38),
    };
    applyZip64(entry, record.subarray(46 + nameLength, 46 + nameLength + extraLength), archive);
    count += 1;
    yield entry;
    at += recordLength;
  }
  if (count !== end.entries) throw corrupt(`it holds ${count} entries where its end record says ${end.entries}`);
}

/** Values too big for 32 bits are 0xFFFFFFFF in the record and 64-bit in its zip64 extra field, in this order. */
function applyZip64(entry: ZipRecord, extra: Buffer, archive: string): void {
  const fields = (['size', 'compressedSize', 'localOffset'] as const).filter((key) => entry[key] === 0xffffffff);
  if (fields.length === 0) return;
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === 0x0001) {
      if (length < fields.length * 8 || at + 4 + length > extra.length) break;
      fields.forEach((key, i) => (entry[key] = safe(extra.readBigUInt64LE(at + 4 + i * 8), archive)));
      return;
    }
    at += 4 + length;
  }
  throw refuseArchive(archive, 'has an entry whose zip64 sizes are missing (corrupt)', AGAIN);
}
