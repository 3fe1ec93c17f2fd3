/**
 * The `current` switch. On this machine for real: readers polling `current` while it is switched over and over never
 * find it missing. Windows' rules (a junction with an absolute target; no rename over an existing directory or
 * junction) are given to the real file system here, so the Windows path runs too: `current` ends at the new release,
 * the temporary links are gone, a failed switch puts the old link back, and an interrupted one is still read.
 */
import * as fsp from 'node:fs/promises';
import { mkdir, mkdtemp, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readReleaseLink, switchReleaseLink, type LinkFs } from '../../../agent/platform/release-link.js';
import { currentRelease, releasePaths, switchCurrent } from '../../../agent/releases.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-link-'));
  for (const id of ['job_1', 'job_2', 'job_3']) await mkdir(join(dir, 'releases', id), { recursive: true });
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

/** The real file system with Windows' rules: junctions only with an absolute target, no rename over a link. */
function windowsLikeFs(log: string[], failRename?: (from: string, to: string) => boolean): LinkFs {
  return {
    symlink: async (target, path, type) => {
      log.push(`symlink ${type}`);
      if (type !== 'junction' || !isAbsolute(target)) throw new Error(`a junction needs an absolute target, got ${target}`);
      await symlink(target, path);
    },
    rename: async (from, to) => {
      if (failRename?.(from, to)) throw Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY' });
      const exists = await fsp.lstat(to).then(() => true, () => false);
      if (exists) throw Object.assign(new Error(`EPERM: operation not permitted, rename '${from}' -> '${to}'`), { code: 'EPERM' });
      log.push('rename');
      await fsp.rename(from, to);
    },
    unlink: fsp.unlink,
    readlink: (path) => fsp.readlink(path),
    readdir: (path) => fsp.readdir(path),
  };
}

describe('on Unix (this machine)', () => {
  it('keeps `current` relative and never missing while it is switched', async () => {
    const paths = releasePaths(dir, 'acme/shop', 'prod', 'x');
    await mkdir(paths.releases, { recursive: true });
    for (const id of ['job_1', 'job_2']) await mkdir(join(paths.releases, id));
    await switchCurrent({ ...paths, release: join(paths.releases, 'job_1') });
    let missing = 0;
    let reads = 0;
    let switching = true;
    const reader = (async () => {
      while (switching) {
        reads++;
        if ((await readlink(paths.current).catch(() => undefined)) === undefined) missing++;
      }
    })();
    for (let i = 0; i < 300; i++) await switchCurrent({ ...paths, release: join(paths.releases, i % 2 ? 'job_1' : 'job_2') });
    switching = false;
    await reader;
    expect(reads).toBeGreaterThan(50);
    expect(missing).toBe(0);
    expect(await readlink(paths.current)).toBe(join('releases', 'job_1'));
    expect(await currentRelease(paths)).toBe('job_1');
  });
});

describe("on Windows (its rules on this machine's file system)", () => {
  it('makes `current` a junction with an absolute target, and switches it again past the rename rule', async () => {
    const log: string[] = [];
    const current = join(dir, 'current');
    await switchReleaseLink(current, join('releases', 'job_1'), { platform: 'win32', fs: windowsLikeFs(log) });
    expect(await readlink(current)).toBe(join(dir, 'releases', 'job_1'));
    expect(log).toEqual(['symlink junction', 'rename']);

    log.length = 0;
    await switchReleaseLink(current, join('releases', 'job_2'), { platform: 'win32', fs: windowsLikeFs(log) });
    expect(await readlink(current)).toBe(join(dir, 'releases', 'job_2'));
    // Renaming over the old junction is refused; the old one goes aside, the new one in, the old one away.
    expect(log).toEqual(['symlink junction', 'rename', 'rename']);
    expect((await readdir(dir)).sort()).toEqual(['current', 'releases']);
    expect(await readReleaseLink(current, { platform: 'win32' })).toBe('job_2');
  });

  it('puts the old junction back when the new one cannot be moved in', async () => {
    const current = join(dir, 'current');
    await switchReleaseLink(current, join('releases', 'job_1'), { platform: 'win32', fs: windowsLikeFs([]), tag: 't' });
    const busy = windowsLikeFs([], (from, to) => from.endsWith('.t.tmp') && to === current);
    await expect(switchReleaseLink(current, join('releases', 'job_2'), { platform: 'win32', fs: busy, tag: 't' })).rejects.toThrow('EBUSY');
    expect(await readlink(current)).toBe(join(dir, 'releases', 'job_1'));
  });

  it('reads an interrupted switch: `current` missing, the old junction set aside', async () => {
    await symlink(join(dir, 'releases', 'job_3'), join(dir, 'current.4242.old'));
    expect(await readReleaseLink(join(dir, 'current'), { platform: 'win32' })).toBe('job_3');
    await switchReleaseLink(join(dir, 'current'), join('releases', 'job_1'), { platform: 'win32', fs: windowsLikeFs([]) });
    expect(await readReleaseLink(join(dir, 'current'), { platform: 'win32' })).toBe('job_1');
  });

  it('reads the release name from a junction target written the Windows way', async () => {
    const fakeFs = (target: string): LinkFs => ({ ...windowsLikeFs([]), readlink: async () => target });
    for (const target of ['C:\\bitenvoy\\apps\\acme\\shop\\prod\\releases\\job_7\\', 'C:\\bitenvoy\\apps\\acme\\shop\\prod\\releases\\job_7', '\\\\?\\C:\\x\\releases\\job_7']) {
      expect(await readReleaseLink('C:\\bitenvoy\\current', { platform: 'win32', fs: fakeFs(target) })).toBe('job_7');
    }
    expect(await readReleaseLink('/srv/current', { platform: 'linux', fs: fakeFs('releases/job_7') })).toBe('job_7');
  });
});
