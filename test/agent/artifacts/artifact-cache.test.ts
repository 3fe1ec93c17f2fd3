import { lutimes, mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pruneArtifactCache } from '../../../agent/artifacts/artifact-cache.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const HOUR = 3_600_000;

describe('pruneArtifactCache', () => {
  let cacheDir: string;
  let dir: string;

  beforeEach(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'be-prune-'));
    dir = join(cacheDir, 'sha256');
    await mkdir(dir);
  });

  afterEach(() => rm(cacheDir, { recursive: true, force: true }));

  async function entry(name: string, ageMs: number, body = 'x'): Promise<void> {
    await writeFile(join(dir, name), body);
    const when = new Date(Date.now() - ageMs);
    await utimes(join(dir, name), when, when);
  }

  it('deletes old entries outside the kept set, never a kept one, a young one or a file it does not own', async () => {
    await entry(A, 10 * HOUR);
    await entry(B, 10 * HOUR, 'bytes');
    await entry(`${B}.partial`, 10 * HOUR);
    await entry(`${B}.partial.json`, 10 * HOUR);
    await entry(C, 60_000);
    await entry(`${C}.partial`, 60_000);
    await entry('notes.txt', 10 * HOUR);
    await symlink(join(dir, A), join(dir, 'd'.repeat(64)));
    const old = new Date(Date.now() - 10 * HOUR);
    await lutimes(join(dir, 'd'.repeat(64)), old, old);
    const result = await pruneArtifactCache(cacheDir, new Set([A.toUpperCase()]));
    expect(result.removed).toEqual([B, `${B}.partial`, `${B}.partial.json`]);
    expect(result.freedBytes).toBe(7);
    expect((await readdir(dir)).sort()).toEqual([A, C, `${C}.partial`, 'd'.repeat(64), 'notes.txt']);
  });

  it('takes its age limit from the caller, and a missing cache is an empty one', async () => {
    await entry(C, 60_000);
    expect((await pruneArtifactCache(cacheDir, new Set(), { minAgeMs: 1000 })).removed).toEqual([C]);
    expect(await pruneArtifactCache(join(cacheDir, 'none'), new Set())).toEqual({ removed: [], freedBytes: 0 });
  });
});
