/**
 * Zip archives built byte by byte: paths and links leading out, devices, encryption, unread methods, lying sizes and
 * CRCs, zip bombs and cut files — each refused with its entry named and nothing left behind.
 */
import { mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackArchive, type UnpackOptions } from '../../../agent/artifacts/unpack-archive.js';
import { zipArchive } from './build-archive.js';
import { ESCAPE_PATH, expectRefusal } from './expect-refusal.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-hostile-zip-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const refusal = (bytes: Buffer, options: UnpackOptions = {}) => expectRefusal(dir, bytes, options, 'artifact.zip');
const LINK = 0o120777;

/**
 * A deflate stream of `mebibytes` MiB of zeros made of one 1 MiB block repeated: each copy ends with a full flush,
 * so copies chain, and the whole is about 1 KiB per MiB — a zip bomb without ever holding the expanded bytes.
 */
function zerosStream(mebibytes: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array<Buffer>(mebibytes).fill(block), Buffer.from([0x03, 0x00])]);
}

describe('paths, links and types', () => {
  it.each([
    ['a `..` path', zipArchive({ name: 'ok' }, { name: '../evil' }), "the archive's entry `../evil` would land outside the release"],
    ['an absolute path', zipArchive({ name: ESCAPE_PATH }), `entry \`${ESCAPE_PATH}\` has an absolute path`],
    ['a backslash path', zipArchive({ name: '..\\evil' }), 'entry `..\\evil` has a backslash in its path'],
    ['a symlink out', zipArchive({ name: 'l', unixMode: LINK, data: '/tmp', method: 0 }), 'entry `l` has an absolute link target'],
    ['a symlink climbing out', zipArchive({ name: 'a/l', unixMode: LINK, data: '../..' }), 'entry `a/l` is a symlink to `../..`, which leads outside'],
    ['an entry through a symlink', zipArchive({ name: 'l', unixMode: LINK, data: '.' }, { name: 'l/x' }), 'entry `l/x` would be written through `l`'],
    ['a character device', zipArchive({ name: 'tty', unixMode: 0o020644 }), 'entry `tty` is a character device'],
    ['a FIFO', zipArchive({ name: 'pipe', unixMode: 0o010644 }), 'entry `pipe` is a FIFO (named pipe)'],
    ['a file over a directory', zipArchive({ name: 'd/' }, { name: 'd' }), 'entry `d` appears again as a file where the archive already wrote a directory'],
  ])('refuses %s', async (_label, bytes, message) => {
    expect((await refusal(bytes)).message).toContain(message);
  });

  it('keeps a symlink that stays inside and the modes it was given', async () => {
    const bytes = zipArchive({ name: 'bin/' }, { name: 'bin/tool', data: 'run', unixMode: 0o104755 }, { name: 'tool', unixMode: LINK, data: 'bin/tool' });
    await writeFile(join(dir, 'good.zip'), bytes);
    await unpackArchive(join(dir, 'good.zip'), join(dir, 'good'));
    expect(await readlink(join(dir, 'good/tool'))).toBe('bin/tool');
    expect(await readFile(join(dir, 'good/tool'), 'utf8')).toBe('run');
  });
});

describe('what the zip format itself must check', () => {
  it.each([
    ['an encrypted entry', zipArchive({ name: 'secret', flags: 0x801 }), 'entry `secret` is encrypted, which the agent cannot check'],
    ['an AES entry', zipArchive({ name: 'aes', method: 99 }), 'entry `aes` is encrypted'],
    ['bzip2', zipArchive({ name: 'b.txt', method: 12, compressed: Buffer.from('BZh9') }), 'entry `b.txt` is compressed with bzip2, which the agent does not read'],
    ['an unknown method', zipArchive({ name: 'm', method: 77 }), 'entry `m` is compressed with method 77'],
    ['a wrong CRC-32', zipArchive({ name: 'c.txt', data: 'hello', crc: 1234 }), 'entry `c.txt` fails its CRC-32 check'],
    ['a size smaller than its content', zipArchive({ name: 's.txt', data: 'hello', size: 3 }), 'entry `s.txt` inflates past the 3 bytes its header declares'],
    ['a size larger than its content', zipArchive({ name: 'l.txt', data: 'hello', size: 9 }), 'entry `l.txt` has 5 bytes where its header declares 9'],
    ['a stored entry with two sizes', zipArchive({ name: 't', data: 'hello', method: 0, size: 4 }), 'entry `t` is stored with two different sizes'],
    ['a local header naming another entry', zipArchive({ name: 'shown.txt', localName: '../hidden' }), 'entry `shown.txt` has a local header naming another entry'],
    ['deflate data that does not inflate', zipArchive({ name: 'z', compressed: Buffer.from([0xff, 0xff, 0xff]), size: 3 }), 'entry `z` has compressed data that does not inflate'],
  ])('refuses %s', async (_label, bytes, message) => {
    expect((await refusal(bytes)).message).toContain(message);
  });

  it('refuses a cut zip: its end record, and then its directory, are gone', async () => {
    const whole = zipArchive({ name: 'a', data: 'x'.repeat(5000) }, { name: 'b', data: 'y' });
    expect((await refusal(whole.subarray(0, whole.length - 10))).message).toContain('`artifact.zip` has no end-of-central-directory record');
    const noDirectory = Buffer.concat([whole.subarray(0, 60), whole.subarray(whole.length - 22)]);
    expect((await refusal(noDirectory)).message).toContain('`artifact.zip` declares a central directory beyond its end records');
  });
});

describe('zip bombs', () => {
  it('stops a bomb that declares a small size as soon as it inflates past it', async () => {
    // 4 GiB of zeros in ~4 MB, declared as 1 KiB.
    const err = await refusal(zipArchive({ name: 'bomb.bin', compressed: zerosStream(4096), size: 1024 }));
    expect(err.message).toContain('entry `bomb.bin` inflates past the 1024 bytes its header declares (a zip bomb, or corrupt)');
  });

  it('stops at maxBytes when the sizes are honest, counting the bytes as they are written', async () => {
    const crc = crc32(Buffer.alloc(16 << 20));
    const entries = [1, 2, 3].map((n) => ({ name: `part-${n}.bin`, compressed: zerosStream(16), size: 16 << 20, crc }));
    const err = await refusal(zipArchive(...entries), { maxBytes: 40 << 20 });
    expect(err.message).toContain('entry `part-3.bin` takes the unpacked artifact past its cap of 41943040 bytes');
    expect(err.details?.bytes).toBeLessThanOrEqual(40 << 20);
  });
});
