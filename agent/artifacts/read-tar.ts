/**
 * A streaming tar reader: ustar, GNU long names and link names (types L and K) and pax extended headers (types x and
 * g: `path`, `linkpath`, `size`) — what GNU tar, bsdtar and `npm pack` write. Entries come out one at a time with
 * their content streamed from the (possibly gunzipped) byte stream; nothing is gathered but headers, and those are
 * capped.
 *
 * @example
 * for await (const entry of readTar(createReadStream('site.tar'), 'site.tar')) await writer.write(entry);
 */
import type { ArchiveEntry, EntryReader, EntryType } from './archive-entry.js';
import { refuseArchive, showName } from './artifact-error.js';
import { ChunkReader } from './chunk-reader.js';
import { BLOCK, isZeroBlock, parsePaxRecords, parseTarHeader, tarChecksumMatches, type TarHeader } from './tar-header.js';

/** A long name or pax header bigger than this is not a name: refuse it rather than gather it. */
const MAX_METADATA_BYTES = 1 << 20;
/** Metadata headers in a row before an entry; more is a loop of nothing (pax `g` headers are standalone). */
const MAX_METADATA_IN_A_ROW = 8;
const AGAIN = 'download or build the artifact again';

const TYPES: Record<string, EntryType> = { '0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '5': 'directory' };
const UNSUPPORTED: Record<string, string> = {
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO (named pipe)',
  S: 'a GNU sparse file',
  M: 'a GNU multi-volume continuation',
  D: 'a GNU incremental-backup directory',
  V: 'a GNU volume label',
};
/** Types whose header is followed by no content whatever its size says. */
const NO_CONTENT = new Set(['1', '2', '3', '4', '5', '6']);

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Reads the tar stream `source`; `archive` names it in refusals. */
export async function* readTar(source: AsyncIterable<Buffer>, archive: string): EntryReader {
  const reader = new ChunkReader(source);
  const truncated = (where: string) => refuseArchive(archive, `ends ${where} (the file is truncated)`, AGAIN);
  let offset = 0;
  let globals = new Map<string, string>();
  let local = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let metadataInARow = 0;
  try {
    for (;;) {
      const block = await reader.read(BLOCK);
      if (block.length < BLOCK) throw truncated(`at byte ${offset + block.length}, before the end-of-archive marker`);
      if (isZeroBlock(block)) return; // what follows the marker (a second zero block, padding) is not read
      if (!tarChecksumMatches(block)) {
        throw refuseArchive(archive, `has a tar header at byte ${offset} whose checksum does not match (it is corrupt, or not a tar archive)`, AGAIN);
      }
      const header = parseTarHeader(block, offset, archive);
      offset += BLOCK;
      if ('xgLK'.includes(header.type)) {
        if (++metadataInARow > MAX_METADATA_IN_A_ROW || header.size > MAX_METADATA_BYTES) {
          throw refuseArchive(archive, `has an oversized or endless run of extended headers at byte ${offset - BLOCK}`, AGAIN);
        }
        const data = await reader.read(header.size);
        if (data.length < header.size || (await reader.skip(padding(header.size))) < padding(header.size)) throw truncated('inside an extended header');
        offset += header.size + padding(header.size);
        const where = `at byte ${offset - BLOCK}`;
        if (header.type === 'x') local = parsePaxRecords(data, archive, where);
        else if (header.type === 'g') globals = new Map([...globals, ...parsePaxRecords(data, archive, where)]);
        else if (header.type === 'L') longName = cString(data);
        else longLink = cString(data);
        continue;
      }
      metadataInARow = 0;
      const entry = describe(header, new Map([...globals, ...local]), longName, longLink, archive);
      local = new Map();
      longName = longLink = undefined;
      const contentSize = NO_CONTENT.has(header.type) ? 0 : entry.size;
      let consumed = 0;
      let opened = false;
      yield {
        ...entry,
        async *body() {
          if (opened) throw new Error('an entry body is read once');
          opened = true;
          // A cut content ends early here; the skip below, which finds the rest missing, refuses the archive.
          for await (const piece of reader.pieces(contentSize)) {
            consumed += piece.length;
            yield piece;
          }
        },
      };
      const rest = contentSize - consumed + padding(contentSize);
      if ((await reader.skip(rest)) < rest) throw truncated(`inside the content of \`${showName(entry.name)}\``);
      offset += contentSize + padding(contentSize);
    }
  } finally {
    await reader.close();
  }
}

function cString(data: Buffer): string {
  const end = data.indexOf(0);
  return data.toString('utf8', 0, end === -1 ? data.length : end);
}

/** The entry a header describes, its pax records (global, then local) and GNU long names taking precedence. */
function describe(header: TarHeader, pax: Map<string, string>, longName: string | undefined, longLink: string | undefined, archive: string): Omit<ArchiveEntry, 'body'> {
  // An empty pax value unsets the record: the header's own field applies.
  const record = (key: string) => (pax.get(key) === '' ? undefined : pax.get(key));
  const name = record('path') ?? longName ?? header.name;
  let size = header.size;
  const paxSize = record('size');
  if (paxSize !== undefined) {
    size = /^[0-9]{1,16}$/.test(paxSize) ? Number(paxSize) : NaN;
    if (!Number.isSafeInteger(size)) throw refuseArchive(archive, `has a pax \`size\` that is not a byte count for \`${showName(name)}\``, AGAIN);
  }
  const type = TYPES[header.type] ?? 'unsupported';
  const typeName = type === 'unsupported' ? (UNSUPPORTED[header.type] ?? `an entry of unknown tar type \`${showName(header.type)}\``) : undefined;
  return { name, type, typeName, mode: header.mode, size, linkTarget: record('linkpath') ?? longLink ?? header.linkname };
}
