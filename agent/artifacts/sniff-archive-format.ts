/**
 * Which archive a file is, from its first bytes: gzip (`1f 8b`, taken as a gzipped tar), zip (`PK\x03\x04`, or
 * `PK\x05\x06` for an empty zip), ustar (`ustar` at byte 257), or a plain v7 tar whose first header's checksum holds.
 *
 * @example
 * await sniffArchiveFormat('site.tgz'); // 'tar.gz'
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { refuseArchive } from './artifact-error.js';
import { BLOCK, isZeroBlock, tarChecksumMatches } from './tar-header.js';

export type ArchiveFormat = 'tar' | 'tar.gz' | 'zip';

/** The format of the file's first 512 bytes, or undefined when none matches. */
export function formatOf(head: Buffer): ArchiveFormat | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  if (head.length >= 22 && head.readUInt32LE(0) === 0x06054b50) return 'zip';
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
  // An empty tar is only its end marker; a v7 tar has no magic, only its checksum.
  if (head.length === BLOCK && (isZeroBlock(head) || tarChecksumMatches(head))) return 'tar';
  return undefined;
}

/**
 * Reads the head of `file` and names its format, or refuses it naming what the agent reads.
 *
 * @example
 * const format = options.format ?? (await sniffArchiveFormat(file));
 */
export async function sniffArchiveFormat(file: string): Promise<ArchiveFormat> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(BLOCK);
    const { bytesRead } = await handle.read(head, 0, BLOCK, 0);
    const format = formatOf(head.subarray(0, bytesRead));
    if (format) return format;
    const what = bytesRead === 0 ? 'is empty' : 'is not an archive this agent reads (its first bytes are not gzip, zip or tar)';
    throw refuseArchive(basename(file), what, 'deliver the artifact as a .tar, .tar.gz or .zip, or set its format');
  } finally {
    await handle.close();
  }
}
