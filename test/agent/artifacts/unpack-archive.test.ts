/**
 * Archives made by the system's own `tar` (GNU, pax and ustar formats, gzipped or not) and Info-ZIP `zip` unpack to
 * exactly the tree they were made from: contents, permission bits (setuid dropped), nested and empty directories,
 * empty files, names past 100 characters, a symlink that stays inside.
 */
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isErrorCode } from '../../../lib/errors.js';
import { unpackArchive } from '../../../agent/artifacts/unpack-archive.js';
import { ensureCommand } from '../../../testbed/ensure-command.js';

const run = promisify(execFile);
const LONG_DIR = 'a-directory-whose-name-is-quite-long-'.padEnd(70, 'd');
const LONG_FILE = 'and-a-file-name-that-takes-the-whole-path-past-one-hundred-characters'.padEnd(80, 'f') + '.txt';
let dir: string;
let tree: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-unpack-'));
  tree = join(dir, 'tree');
  await mkdir(join(tree, 'bin'), { recursive: true });
  await mkdir(join(tree, 'a/b/c'), { recursive: true });
  await mkdir(join(tree, 'empty-dir'));
  await mkdir(join(tree, 'private'), { mode: 0o750 });
  await mkdir(join(tree, LONG_DIR));
  await mkdir(join(tree, 'links'));
  await writeFile(join(tree, 'bin/run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await writeFile(join(tree, 'bin/suid'), 'x', { mode: 0o644 });
  await chmod(join(tree, 'bin/suid'), 0o4755);
  await writeFile(join(tree, 'a/b/c/deep.txt'), 'deep\n'.repeat(1000));
  await writeFile(join(tree, 'empty.txt'), '');
  await writeFile(join(tree, 'private/key.pem'), 'not a key', { mode: 0o600 });
  await writeFile(join(tree, LONG_DIR, LONG_FILE), 'long');
  await symlink('../a/b/c/deep.txt', join(tree, 'links/deep'));
  await chmod(join(tree, 'private'), 0o750);
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function expectTree(dest: string, opts: { keepsLinks?: boolean } = {}): Promise<void> {
  expect(await readFile(join(dest, 'bin/run.sh'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
  expect((await stat(join(dest, 'bin/run.sh'))).mode & 0o7777).toBe(0o755);
  expect((await stat(join(dest, 'bin/suid'))).mode & 0o7777).toBe(0o755); // setuid dropped, the rest kept
  expect((await stat(join(dest, 'private/key.pem'))).mode & 0o7777).toBe(0o600);
  expect((await stat(join(dest, 'private'))).mode & 0o7777).toBe(0o750);
  expect((await stat(join(dest, 'empty-dir'))).isDirectory()).toBe(true);
  expect(await readFile(join(dest, 'a/b/c/deep.txt'), 'utf8')).toBe('deep\n'.repeat(1000));
  expect((await stat(join(dest, 'empty.txt'))).size).toBe(0);
  expect(await readFile(join(dest, LONG_DIR, LONG_FILE), 'utf8')).toBe('long');
  if (opts.keepsLinks !== false) {
    expect(await readlink(join(dest, 'links/deep'))).toBe('../a/b/c/deep.txt');
    expect(await readFile(join(dest, 'links/deep'), 'utf8')).toBe('deep\n'.repeat(1000));
  }
  // Nothing left beside it: the temporary directory was renamed, not copied.
  expect((await readdir(join(dest, '..'))).filter((n) => n.includes('.unpacking-'))).toEqual([]);
}

describe('archives made by tar', () => {
  it.each([
    ['GNU (long names as type L)', ['--format=gnu', '-cf'], 'tar'],
    ['pax (long names as pax records)', ['--format=pax', '-cf'], 'tar'],
    ['ustar (long names split into prefix and name)', ['--format=ustar', '-cf'], 'tar'],
    ['gzipped GNU', ['-czf'], 'tar.gz'],
  ] as const)('unpacks %s with every file, mode and link as made', async (label, flags, ext) => {
    const file = join(dir, `${label.split(' ')[0]}.${ext}`);
    await run('tar', [...flags, file, '-C', tree, '.']);
    const dest = join(dir, 'out', `${label.split(' ')[0]}-${ext}`);
    const result = await unpackArchive(file, dest);
    await expectTree(dest);
    expect(result.bytes).toBe(18 + 1 + 5000 + 9 + 4);
    expect(result.entries).toBeGreaterThanOrEqual(16);
  });

  it('takes names without the ./ prefix, and the format from options', async () => {
    const file = join(dir, 'plain.archive');
    await run('tar', ['-czf', file, '-C', tree, 'bin', 'a']);
    const dest = join(dir, 'out', 'plain');
    await unpackArchive(file, dest, { format: 'tar.gz' });
    expect(await readdir(dest)).toEqual(['a', 'bin']);
    expect((await stat(join(dest, 'bin/run.sh'))).mode & 0o777).toBe(0o755);
  });
});

describe('archives made by zip', () => {
  it('unpacks an Info-ZIP archive with modes, empty files and a stored symlink', async () => {
    const zip = await ensureCommand({ command: 'zip', paths: ['/usr/bin/zip'], debianPackage: 'zip', purpose: 'the artifact unpacking tests' });
    const file = join(dir, 'site.zip');
    await run(zip, ['-q', '-r', '-y', file, '.'], { cwd: tree });
    const dest = join(dir, 'out', 'zip');
    const result = await unpackArchive(file, dest);
    await expectTree(dest);
    expect(result.bytes).toBe(18 + 1 + 5000 + 9 + 4);
  });

  it('unpacks a zip64 archive (`zip -fz`: zip64 end records and extra fields)', async () => {
    const zip = await ensureCommand({ command: 'zip', paths: ['/usr/bin/zip'], debianPackage: 'zip', purpose: 'the artifact unpacking tests' });
    const file = join(dir, 'forced64.zip');
    await run(zip, ['-q', '-r', '-fz', file, 'bin', 'a'], { cwd: tree });
    expect((await readFile(file)).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true); // really zip64
    const dest = join(dir, 'out', 'zip64');
    await unpackArchive(file, dest);
    expect(await readFile(join(dest, 'a/b/c/deep.txt'), 'utf8')).toBe('deep\n'.repeat(1000));
    expect((await stat(join(dest, 'bin/run.sh'))).mode & 0o777).toBe(0o755);
  });

  it('unpacks an empty zip into an empty directory', async () => {
    const file = join(dir, 'empty.zip');
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    await writeFile(file, end);
    const dest = join(dir, 'out', 'empty-zip');
    expect(await unpackArchive(file, dest)).toEqual({ entries: 0, bytes: 0 });
    expect(await readdir(dest)).toEqual([]);
    expect((await stat(dest)).mode & 0o777).toBe(0o755);
  });
});

describe('archives made by npm pack', () => {
  it('unpacks `npm pack` output (node-tar: a long name split into ustar prefix and name)', async () => {
    const pkg = join(dir, 'pkg');
    const deep = join('lib', 'x'.repeat(90), `${'y'.repeat(40)}.js`);
    await mkdir(join(pkg, 'lib', 'x'.repeat(90)), { recursive: true });
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'pk', version: '1.0.0', bin: { pk: 'cli.js' } }));
    await writeFile(join(pkg, 'cli.js'), '#!/usr/bin/env node\n', { mode: 0o755 });
    await writeFile(join(pkg, deep), 'module.exports = 1;\n');
    await run('npm', ['pack', '--silent'], { cwd: pkg });
    const dest = join(dir, 'out', 'npm');
    await unpackArchive(join(pkg, 'pk-1.0.0.tgz'), dest);
    expect(await readFile(join(dest, 'package', deep), 'utf8')).toBe('module.exports = 1;\n');
    expect((await stat(join(dest, 'package/cli.js'))).mode & 0o777).toBe(0o755);
  });
});

describe('what is not an archive, or not a new place', () => {
  it('refuses a file of unknown format, saying which formats it reads', async () => {
    const file = join(dir, 'notes.txt');
    await writeFile(file, 'just text, not an archive\n'.repeat(40));
    const err = await unpackArchive(file, join(dir, 'out', 'notes')).catch((e: unknown) => e);
    expect(isErrorCode(err, 'BE_ARTIFACT')).toBe(true);
    expect((err as Error).message).toMatch(/`notes.txt` is not an archive this agent reads .*\.tar, \.tar\.gz or \.zip/);
    await expect(lstat(join(dir, 'out', 'notes'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a destination that exists, and leaves it as it was', async () => {
    const file = join(dir, 'again.tar');
    await run('tar', ['-cf', file, '-C', tree, 'bin']);
    const dest = join(dir, 'out', 'existing');
    await mkdir(dest, { recursive: true });
    await writeFile(join(dest, 'keep.txt'), 'mine');
    await expect(unpackArchive(file, dest)).rejects.toThrow(/already exists; unpack every artifact into a new directory/);
    expect(await readdir(dest)).toEqual(['keep.txt']);
  });

  it('stops when its signal is aborted, leaving nothing', async () => {
    const file = join(dir, 'cancelled.tar');
    await run('tar', ['-cf', file, '-C', tree, '.']);
    const dest = join(dir, 'out', 'cancelled');
    const err = await unpackArchive(file, dest, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(isErrorCode(err, 'BE_ARTIFACT')).toBe(true);
    expect((err as Error).message).toMatch(/cancelled/);
    await expect(lstat(dest)).rejects.toThrow(/ENOENT/);
  });
});
