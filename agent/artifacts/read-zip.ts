/**
 * A zip reader that trusts the central directory (as unzip does) and checks each entry against it: the local header
 * must carry the same name, the data must lie before the directory, stored (0) and deflate (8) are the only
 * methods, nothing encrypted. Content is inflated as it is read and checked while it flows: it may not grow past
 * its declared size (a zip bomb declares small sizes) and must match its CRC-32 and size at the end.
 *
 * @example
 * for await (const entry of readZip('site.zip', 'site.zip')) await writer.write(entry);
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw, crc32 } from 'node:zlib';
import type { EntryReader, EntryType } from './archive-entry.js';
import { refuseArchive, refuseEntry } from './artifact-error.js';
import { FileWindow, readCentralDirectory, readZipEnd, type ZipRecord } from './zip-directory.js';

const LOCAL = 0x04034b50;
const PIECE = 64 * 1024;
/** A symlink's target is its content: longer than a path can be is not a target. */
const MAX_LINK_BYTES = 4096;
const METHODS: Record<number, string> = {
  1: 'shrink', 6: 'implode', 9: 'deflate64', 12: 'bzip2', 14: 'LZMA', 93: 'zstd', 95: 'xz', 97: 'WavPack', 98: 'PPMd', 99: 'AES encryption',
};
const REBUILD = 'rebuild the artifact with plain `zip` (stored or deflate, no password)';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Unix file types in the high bits of the external attributes. */
const UNIX_TYPES: Record<number, EntryType | string> = {
  0o100000: 'file', 0o040000: 'directory', 0o120000: 'symlink',
  0o020000: 'a character device', 0o060000: 'a block device', 0o010000: 'a FIFO (named pipe)', 0o140000: 'a socket',
};

/** Reads the zip file `file`; `archive` names it in refusals. */
export async function* readZip(file: string, archive: string): EntryReader {
  const window = await FileWindow.open(file);
  try {
    const end = await readZipEnd(window, archive);
    for await (const record of readCentralDirectory(window, end, archive)) {
      const name = decodeName(record, archive);
      if (record.flags & 0x41 || record.method === 99) throw refuseEntry(name, 'is encrypted, which the agent cannot check', REBUILD);
      if (record.method !== 0 && record.method !== 8) {
        throw refuseEntry(name, `is compressed with ${METHODS[record.method] ?? `method ${record.method}`}, which the agent does not read`, REBUILD);
      }
      if (record.method === 0 && record.compressedSize !== record.size) throw refuseEntry(name, 'is stored with two different sizes (corrupt)', REBUILD);
      const start = await dataStart(window, record, name, end.directoryOffset);
      const content = () => checkedContent(window, record, name, start);
      const { type, typeName, mode } = describe(record, name);
      let linkTarget = '';
      if (type === 'symlink') {
        if (record.size > MAX_LINK_BYTES) throw refuseEntry(name, 'is a symlink with a target longer than a path', REBUILD);
        const pieces: Buffer[] = [];
        for await (const piece of content()) pieces.push(piece);
        linkTarget = Buffer.concat(pieces).toString('utf8');
      }
      const hasContent = type === 'file';
      yield { name, type, typeName, mode, size: record.size, linkTarget, body: hasContent ? content : emptyBody };
    }
  } finally {
    await window.handle.close();
  }
}

async function* emptyBody(): AsyncGenerator<Buffer, void, undefined> {
  // directories and links carry no content of their own
}

function decodeName(record: ZipRecord, archive: string): string {
  try {
    return utf8.decode(record.rawName);
  } catch {
    throw refuseArchive(archive, `has an entry whose name is not UTF-8 (\`${record.rawName.toString('latin1')}\`)`, 'rebuild the artifact with a zip tool that writes UTF-8 names (Info-ZIP `zip`, 7-Zip)');
  }
}

function describe(record: ZipRecord, name: string): { type: EntryType; typeName?: string; mode: number | undefined } {
  // Unix permissions only when the zip was made on Unix (3) or macOS (19); others leave the high bits meaningless.
  const host = record.madeBy >> 8;
  const unix = host === 3 || host === 19 ? record.externalAttributes >>> 16 : 0;
  const mode = unix & 0o7777 ? unix & 0o7777 : undefined;
  const unixType = unix & 0o170000 ? UNIX_TYPES[unix & 0o170000] ?? 'an entry of unknown Unix type' : undefined;
  if (name.endsWith('/') || unixType === 'directory' || (record.externalAttributes & 0x10 && unixType === undefined)) {
    return { type: 'directory', mode };
  }
  if (unixType === undefined || unixType === 'file' || unixType === 'symlink') return { type: (unixType ?? 'file') as EntryType, mode };
  return { type: 'unsupported', typeName: unixType, mode };
}

/** Where the entry's data begins, after its local header, which must name the same entry. */
async function dataStart(window: FileWindow, record: ZipRecord, name: string, directoryOffset: number): Promise<number> {
  const local = await window.bytes(record.localOffset, 30);
  if (local.length < 30 || local.readUInt32LE(0) !== LOCAL) throw refuseEntry(name, 'has no local header where the central directory says (truncated or corrupt)', REBUILD);
  const nameLength = local.readUInt16LE(26);
  const start = record.localOffset + 30 + nameLength + local.readUInt16LE(28);
  const localName = await window.bytes(record.localOffset + 30, nameLength);
  if (!localName.equals(record.rawName)) throw refuseEntry(name, 'has a local header naming another entry (a zip made to look different to different tools)', REBUILD);
  if (start + record.compressedSize > directoryOffset) throw refuseEntry(name, 'has data running past the central directory (truncated or corrupt)', REBUILD);
  return start;
}

async function* range(window: FileWindow, start: number, length: number): AsyncGenerator<Buffer, void, undefined> {
  for (let at = start; at < start + length; ) {
    const buffer = Buffer.alloc(Math.min(PIECE, start + length - at));
    const { bytesRead } = await window.handle.read(buffer, 0, buffer.length, at);
    if (bytesRead === 0) return;
    at += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/** The entry's content, inflated if need be, stopped as soon as it grows past its declared size. */
async function* checkedContent(window: FileWindow, record: ZipRecord, name: string, start: number): AsyncGenerator<Buffer, void, undefined> {
  const raw = range(window, start, record.compressedSize);
  let source: AsyncIterable<Buffer> = raw;
  let inflating: Promise<void> | undefined;
  if (record.method === 8) {
    const inflater = createInflateRaw({ chunkSize: PIECE });
    inflating = pipeline(Readable.from(raw), inflater).catch(() => {}); // its error surfaces through the iteration
    source = inflater;
  }
  let size = 0;
  let crc = 0;
  try {
    for await (const piece of source) {
      size += piece.length;
      if (size > record.size) throw refuseEntry(name, `inflates past the ${record.size} bytes its header declares (a zip bomb, or corrupt)`, REBUILD);
      crc = crc32(piece, crc);
      yield piece;
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw refuseEntry(name, `has compressed data that does not inflate (${(err as Error).message})`, REBUILD);
    throw err;
  } finally {
    if (source !== raw) (source as Readable).destroy();
    await inflating;
  }
  if (size !== record.size) throw refuseEntry(name, `has ${size} bytes where its header declares ${record.size} (truncated or corrupt)`, REBUILD);
  if (crc !== record.crc) throw refuseEntry(name, 'fails its CRC-32 check (corrupt or tampered)', REBUILD);
}
