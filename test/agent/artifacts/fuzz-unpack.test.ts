/**
 * Fuzzing: valid tar, tar.gz and zip archives with bytes flipped and ends cut, 800 times each (FUZZ_UNPACK_RUNS) from a seeded
 * generator. Whatever the bytes, unpacking either resolves or throws a BitEnvoyError — never another error, never a
 * hang — and never writes outside its destination: a resolved release holds only links that stay inside it, a
 * refused one leaves nothing.
 */
import { lstat, mkdir, mkdtemp, readdir, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BitEnvoyError } from '../../../lib/errors.js';
import { unpackArchive } from '../../../agent/artifacts/unpack-archive.js';
import { seeded } from '../../helpers/seeded-random.js';
import { paxHeader, tarArchive, tarEntry, zipArchive } from './build-archive.js';
import { ESCAPE_PATH } from './expect-refusal.js';

const RUNS = Number(process.env.FUZZ_UNPACK_RUNS ?? 800);
const SEED = 16;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-fuzz-unpack-'));
  await mkdir(join(dir, 'outside'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const tar = tarArchive(
  { name: 'app/', type: '5', mode: 0o755 },
  { name: 'app/bin/run', data: '#!/bin/sh\nexec node main.js\n', mode: 0o755 },
  { name: 'app/main.js', data: 'console.log("hello")\n'.repeat(40) },
  paxHeader({ path: `app/${'p'.repeat(120)}.txt` }),
  { name: 'ignored', data: 'pax named' },
  tarEntry({ name: '././@LongLink', type: 'L', data: `app/${'g'.repeat(110)}\0` }),
  { name: 'ignored', data: 'gnu named' },
  { name: 'app/current', type: '2', linkname: 'bin' },
  { name: 'app/copy.js', type: '1', linkname: 'app/main.js' },
  { name: 'app/empty', data: '' },
);
const zip = zipArchive(
  { name: 'site/' },
  { name: 'site/index.html', data: '<h1>hello</h1>\n'.repeat(30) },
  { name: 'site/raw.bin', data: Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 255)), method: 0 },
  { name: 'site/home', unixMode: 0o120777, data: 'index.html' },
  { name: 'site/tool', data: 'run', unixMode: 0o100755 },
);

function mutate(base: Buffer, next: () => number): Buffer {
  const bytes = Buffer.from(base);
  const flips = 1 + Math.floor(next() * 4);
  const how = next();
  if (how < 0.75) {
    for (let i = 0; i < flips; i++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
  }
  return how > 0.5 ? bytes.subarray(0, Math.floor(next() * bytes.length)) : bytes;
}

/** Every symlink under `root` stays inside it, followed for real (realpath) and as written. */
async function expectInside(root: string, at = root): Promise<void> {
  for (const entry of await readdir(at, { withFileTypes: true })) {
    const path = join(at, entry.name);
    if (entry.isSymbolicLink()) {
      const target = resolve(dirname(path), await readlink(path));
      expect(relative(root, target).startsWith('..'), `${path} -> ${target}`).toBe(false);
      const real = await realpath(path).catch(() => undefined);
      if (real) expect(relative(await realpath(root), real).startsWith('..'), `${path} -> ${real}`).toBe(false);
    } else if (entry.isDirectory()) {
      await expectInside(root, path);
    }
  }
}

it.each([
  ['tar', tar],
  ['tar.gz', gzipSync(tar)],
  ['zip', zip],
])(`%s: ${RUNS} mutated archives only ever unpack inside, or are refused with a BitEnvoyError`, async (format, base) => {
  const next = seeded(SEED + format.length);
  const outcomes = { unpacked: 0, refused: 0 };
  for (let run = 0; run < RUNS; run++) {
    const box = join(dir, `${format}-${run}`);
    await mkdir(box);
    await writeFile(join(box, 'artifact'), mutate(base, next));
    const release = join(box, 'release');
    try {
      await unpackArchive(join(box, 'artifact'), release, { maxBytes: 1 << 20, maxEntries: 50 });
      outcomes.unpacked += 1;
      await expectInside(release);
    } catch (err) {
      if (!(err instanceof BitEnvoyError)) throw new Error(`run ${run} (seed ${SEED + format.length}) threw a non-BitEnvoyError`, { cause: err });
      expect(err.code).toBe('BE_ARTIFACT');
      expect(await readdir(box)).toEqual(['artifact']);
      outcomes.refused += 1;
    }
    await rm(box, { recursive: true, force: true });
  }
  expect(await readdir(join(dir, 'outside'))).toEqual([]);
  await expect(lstat(ESCAPE_PATH)).rejects.toThrow(/ENOENT/);
  // Both outcomes happen: a fuzzer whose every run is refused (or unpacked) tests less than it seems. Few gzip
  // mutations unpack (most break the deflate stream), but some do: a flip in the gzip header's mtime or trailer.
  expect(outcomes.unpacked).toBeGreaterThan(RUNS / 200);
  expect(outcomes.refused).toBeGreaterThan(RUNS / 5);
}, 120_000);
