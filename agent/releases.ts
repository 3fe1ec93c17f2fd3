/**
 * The release layout on a server: `<dir>/apps/<owner>/<name>/<environment>/releases/<job id>` and `current`, a
 * symlink switched atomically (a new link renamed over the old one) so readers never see it missing.
 *
 * @example
 * const paths = releasePaths(agentDir, 'acme/shop', 'staging', jobId);
 * await switchCurrent(paths);
 * await pruneReleases(paths, 5);
 */
import { readdir, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';

export interface ReleasePaths {
  base: string;
  releases: string;
  release: string;
  current: string;
}

export function releasePaths(agentDir: string, repository: string, environment: string, jobId: string): ReleasePaths {
  const base = join(agentDir, 'apps', repository, environment);
  const releases = join(base, 'releases');
  return { base, releases, release: join(releases, jobId), current: join(base, 'current') };
}

export async function switchCurrent(paths: ReleasePaths): Promise<void> {
  const temp = `${paths.current}.${process.pid}.tmp`;
  await rm(temp, { force: true });
  await symlink(join('releases', basename(paths.release)), temp);
  await rename(temp, paths.current);
}

/** The release `current` points at, if any. */
export async function currentRelease(paths: ReleasePaths): Promise<string | undefined> {
  return readlink(paths.current).then((target) => basename(target), () => undefined);
}

/** Deletes the oldest releases beyond `keep`, never the current one; returns the ids removed. */
export async function pruneReleases(paths: ReleasePaths, keep: number): Promise<string[]> {
  const current = await currentRelease(paths);
  const entries = await readdir(paths.releases, { withFileTypes: true }).catch(() => []);
  const withTimes = await Promise.all(
    entries.filter((e) => e.isDirectory()).map(async (e) => ({ name: e.name, mtime: (await stat(join(paths.releases, e.name))).mtimeMs })),
  );
  withTimes.sort((a, b) => b.mtime - a.mtime);
  const removed: string[] = [];
  for (const [index, dir] of withTimes.entries()) {
    if (index < keep || dir.name === current) continue;
    await rm(join(paths.releases, dir.name), { recursive: true, force: true });
    removed.push(dir.name);
  }
  return removed;
}
