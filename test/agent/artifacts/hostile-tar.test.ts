/**
 * Tar archives built byte by byte with what `tar` itself will not write: each is refused with its entry named, the
 * destination absent, no temporary directory left, and nothing written beside it.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackArchive, type UnpackOptions } from '../../../agent/artifacts/unpack-archive.js';
import { paxHeader, tarArchive, tarEntry } from './build-archive.js';
import { ESCAPE_PATH, expectRefusal } from './expect-refusal.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-hostile-tar-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const refusal = (bytes: Buffer, options: UnpackOptions = {}, name = 'artifact.tar') => expectRefusal(dir, bytes, options, name);

const file = (name: string, data: string | Buffer = 'x') => ({ name, data });

describe('paths that lead out', () => {
  it.each([
    ['a `..` segment', tarArchive(file('ok.txt'), file('../etc/passwd')), "the archive's entry `../etc/passwd` would land outside the release (`..` is not allowed in an artifact's paths); rebuild the artifact with relative paths"],
    ['a `..` deeper down', tarArchive(file('a/b/../../../x')), "entry `a/b/../../../x` would land outside"],
    ['an absolute path', tarArchive(file(ESCAPE_PATH)), `entry \`${ESCAPE_PATH}\` has an absolute path`],
    ['a Windows drive path', tarArchive(file('C:\\Windows\\x')), 'entry `C:\\Windows\\x` has a Windows drive path (`C:`)'],
    ['a UNC path', tarArchive(file('\\\\server\\share\\x')), 'entry `\\\\server\\share\\x` has a network (UNC) path'],
    ['a backslash path', tarArchive(file('a\\..\\..\\x')), 'entry `a\\..\\..\\x` has a backslash in its path'],
    ['a control character', tarArchive(file('a\nb')), 'entry `a\\x0ab` has a control character in its path'],
    ['a NUL (through a pax path)', tarArchive(paxHeader({ path: 'a\u0000b' }), file('ignored')), 'entry `a\\x00b` has a control character'],
    ['a `..` through a pax path', tarArchive(paxHeader({ path: '../pax-escape' }), file('innocent')), 'entry `../pax-escape` would land outside'],
    ['a `..` through a GNU long name', tarArchive(tarEntry({ name: '././@LongLink', type: 'L', data: '../long-escape\0' }), file('innocent')), 'entry `../long-escape` would land outside'],
  ])('refuses %s', async (_label, bytes, message) => {
    expect((await refusal(bytes)).message).toContain(message);
  });
});

describe('links', () => {
  it.each([
    ['an absolute target', tarArchive({ name: 'a', type: '2', linkname: '/tmp' }), 'entry `a` has an absolute link target'],
    ['a target outside from its own directory', tarArchive({ name: 'd/l', type: '2', linkname: '../../x' }), 'entry `d/l` is a symlink to `../../x`, which leads outside the release'],
    ['a target that climbs after a name', tarArchive({ name: 'up', type: '2', linkname: 'd/../..' }), 'entry `up` is a symlink to `d/../..`, which climbs (`..`) after naming a directory'],
    ['an entry written through an absolute link', tarArchive({ name: 'a', type: '2', linkname: '/tmp' }, file('a/x-bitenvoy-escaped')), 'entry `a` has an absolute link target'],
    ['an entry written through a link, even one inside', tarArchive({ name: 'sub', type: '5' }, { name: 'a', type: '2', linkname: 'sub' }, file('a/x')), 'entry `a/x` would be written through `a`, a symlink of the archive'],
    ['a hard link to an entry that comes later', tarArchive({ name: 'h', type: '1', linkname: 'later' }, file('later')), 'entry `h` is a hard link to `later`, which is not a regular file written earlier'],
    ['a hard link out of the release', tarArchive({ name: 'h', type: '1', linkname: '../../etc/passwd' }), 'entry `h` would land outside the release (`..` is not allowed in an artifact\'s paths `../../etc/passwd`)'],
    ['a hard link to an absolute path', tarArchive({ name: 'h', type: '1', linkname: '/etc/passwd' }), 'entry `h` has an absolute hard link target'],
    ['a hard link to a directory', tarArchive({ name: 'd', type: '5' }, { name: 'h', type: '1', linkname: 'd' }), 'entry `h` is a hard link to `d`, which is not a regular file'],
    ['a hard link to a symlink', tarArchive(file('f'), { name: 'l', type: '2', linkname: 'f' }, { name: 'h', type: '1', linkname: 'l' }), 'entry `h` is a hard link to `l`, which is not a regular file'],
  ])('refuses %s', async (_label, bytes, message) => {
    expect((await refusal(bytes)).message).toContain(message);
  });

  it('keeps links that stay inside, and a hard link to an earlier file', async () => {
    const bytes = tarArchive(file('lib/v1/app.js', 'code'), { name: 'lib/current', type: '2', linkname: 'v1' }, { name: 'bin/app', type: '2', linkname: '../lib/current/app.js' }, { name: 'copy.js', type: '1', linkname: 'lib/v1/app.js' });
    await writeFile(join(dir, 'links.tar'), bytes);
    await unpackArchive(join(dir, 'links.tar'), join(dir, 'links'));
    expect(await readFile(join(dir, 'links/bin/app'), 'utf8')).toBe('code');
    expect(await readFile(join(dir, 'links/copy.js'), 'utf8')).toBe('code');
  });
});

describe('entry types and duplicates', () => {
  it.each([
    ['a character device', tarArchive({ name: 'tty', type: '3' }), 'entry `tty` is a character device, which an artifact may not contain'],
    ['a block device', tarArchive({ name: 'sda', type: '4' }), 'entry `sda` is a block device'],
    ['a FIFO', tarArchive({ name: 'pipe', type: '6' }), 'entry `pipe` is a FIFO (named pipe)'],
    ['an unknown type', tarArchive({ name: 'odd', type: 'Z' }), 'entry `odd` is an entry of unknown tar type `Z`'],
    ['a file replacing a directory', tarArchive({ name: 'd', type: '5' }, file('d/in'), file('d')), 'entry `d` appears again as a file where the archive already wrote a directory'],
    ['a file replacing a symlink', tarArchive(file('f'), { name: 'l', type: '2', linkname: 'f' }, file('l')), 'entry `l` appears again as a file where the archive already wrote a symlink'],
    ['a directory replacing a file', tarArchive(file('f'), { name: 'f', type: '5' }), 'entry `f` appears again as a directory where the archive already wrote a file'],
    ['an entry under a file', tarArchive(file('f'), file('f/x')), 'entry `f/x` would need `f`, a file of the archive, to be a directory'],
    ['the release root as a file', tarArchive(file('./')), 'entry `./` names the release root itself but is not a directory'],
  ])('refuses %s', async (_label, bytes, message) => {
    expect((await refusal(bytes)).message).toContain(message);
  });

  it('keeps a directory readable and writable by its owner (u+rwx), so the agent can prune the release later', async () => {
    await writeFile(join(dir, 'locked.tar'), tarArchive({ name: 'ro', type: '5', mode: 0o555 }, { name: 'ro/f', data: 'x', mode: 0o6444 }));
    await unpackArchive(join(dir, 'locked.tar'), join(dir, 'locked'));
    expect((await stat(join(dir, 'locked/ro'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(dir, 'locked/ro/f'))).mode & 0o7777).toBe(0o444);
  });

  it('lets a later copy of a file replace an earlier one, as `tar -r` appends it', async () => {
    await writeFile(join(dir, 'twice.tar'), tarArchive(file('f', 'old'), file('f', 'new')));
    await unpackArchive(join(dir, 'twice.tar'), join(dir, 'twice'));
    expect(await readFile(join(dir, 'twice/f'), 'utf8')).toBe('new');
  });
});

describe('caps and truncation', () => {
  const five = tarArchive(...['a', 'b', 'c', 'd', 'e'].map((n) => file(n)));

  it('refuses more entries than maxEntries, naming the first one past the cap', async () => {
    expect((await refusal(five, { maxEntries: 4 })).message).toContain('entry `e` is past the cap of 4 entries');
    await writeFile(join(dir, 'five.tar'), five);
    expect((await unpackArchive(join(dir, 'five.tar'), join(dir, 'five'), { maxEntries: 5 })).entries).toBe(5);
  });

  it('refuses content past maxBytes, counted while writing', async () => {
    const big = tarArchive(file('small', 'x'.repeat(1000)), file('big', Buffer.alloc(3 << 20)));
    const err = await refusal(gzipSync(big), { maxBytes: 1 << 20 }, 'big.tar.gz');
    expect(err.message).toContain('entry `big` takes the unpacked artifact past its cap of 1048576 bytes');
    expect(err.details?.bytes).toBeLessThanOrEqual(1 << 20);
  });

  it.each([
    ['inside a file', (t: Buffer) => t.subarray(0, 512 + 100), 'ends inside the content of `a` (the file is truncated)'],
    ['between entries, before the end marker', (t: Buffer) => t.subarray(0, 1024), 'ends at byte 1024, before the end-of-archive marker'],
    ['inside a header', (t: Buffer) => t.subarray(0, 1024 + 200), 'ends at byte 1224, before the end-of-archive marker'],
  ])('refuses an archive cut %s', async (_label, cut, message) => {
    expect((await refusal(cut(five))).message).toContain(message);
  });

  it('refuses a gzipped archive cut short, and a header whose checksum fails', async () => {
    const gz = gzipSync(tarArchive(file('a', Buffer.alloc(200_000, 7))));
    expect((await refusal(gz.subarray(0, gz.length - 30), {}, 'cut.tar.gz')).message).toMatch(/`cut.tar.gz` is corrupt|truncated/);
    const bad = Buffer.from(five);
    bad[1024 + 10] = 0x41; // inside the second header's name
    expect((await refusal(bad)).message).toContain('has a tar header at byte 1024 whose checksum does not match');
  });
});
