/**
 * Archives built byte by byte, for the hostile cases that `tar` and `zip` refuse to make (`../` names, links out,
 * devices, lying sizes). Each function writes only what the format needs; options bend one field at a time.
 */
import { crc32, deflateRawSync } from 'node:zlib';

export interface TarSpec {
  name: string;
  /** Type flag: '0' file (default), '1' hard link, '2' symlink, '3' char device, '5' directory, 'x' pax… */
  type?: string;
  data?: Buffer | string;
  mode?: number;
  linkname?: string;
  /** Declared size when it should differ from the data's. */
  size?: number;
  /** Writes `ustar\0` magic (default) or none (a v7 header). */
  magic?: boolean;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** One header block and its content, padded to 512 bytes. */
export function tarEntry(spec: TarSpec): Buffer {
  const data = Buffer.from(spec.data ?? '');
  const header = Buffer.alloc(512);
  header.write(spec.name, 0, 100, 'utf8');
  header.write(octal(spec.mode ?? 0o644, 8), 100, 'latin1');
  header.write(octal(0, 8), 108, 'latin1');
  header.write(octal(0, 8), 116, 'latin1');
  header.write(octal(spec.size ?? data.length, 12), 124, 'latin1');
  header.write(octal(0, 12), 136, 'latin1');
  header.write(spec.type ?? '0', 156, 'latin1');
  header.write(spec.linkname ?? '', 157, 100, 'utf8');
  if (spec.magic !== false) header.write('ustar\x0000', 257, 'latin1');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(octal(sum, 7) + ' ', 148, 'latin1');
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding]);
}

/** A pax extended header ('x') carrying `records`, for the entry that follows it. */
export function paxHeader(records: Record<string, string>, type = 'x'): Buffer {
  let text = '';
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    let length = body.length + 1;
    while (String(length).length + Buffer.byteLength(body) !== length) length = String(length).length + Buffer.byteLength(body);
    text += `${length}${body}`;
  }
  return tarEntry({ name: 'PaxHeader', type, data: text });
}

/** Entries, then the two zero blocks that end a tar. */
export function tarArchive(...entries: Array<TarSpec | Buffer>): Buffer {
  const blocks = entries.map((entry) => (Buffer.isBuffer(entry) ? entry : tarEntry(entry)));
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

export interface ZipSpec {
  name: string;
  data?: Buffer | string;
  /** 0 stored, 8 deflate (default), or any other number to see it refused. */
  method?: number;
  /** Unix mode with its type bits (0o100644 a file, 0o120777 a symlink, 0o020644 a character device). */
  unixMode?: number;
  flags?: number;
  /** Declared uncompressed size and CRC, when they should lie. */
  size?: number;
  crc?: number;
  /** Compressed bytes as they should be stored (a hand-made deflate stream). */
  compressed?: Buffer;
  /** A different name in the local header. */
  localName?: string;
}

/** A zip of the entries: local headers and data, the central directory, the end record. */
export function zipArchive(...entries: ZipSpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const spec of entries) {
    const data = Buffer.from(spec.data ?? '');
    const method = spec.method ?? 8;
    const stored = spec.compressed ?? (method === 8 ? deflateRawSync(data) : data);
    const name = Buffer.from(spec.name);
    const localName = Buffer.from(spec.localName ?? spec.name);
    const crc = spec.crc ?? crc32(data);
    const size = spec.size ?? data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(spec.flags ?? 0x800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(localName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 30, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(spec.flags ?? 0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((spec.unixMode ?? (spec.name.endsWith('/') ? 0o40755 : 0o100644)) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, localName, stored);
    centrals.push(central, name);
    offset += 30 + localName.length + stored.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
