/**
 * The release layout on a server: `<dir>/apps/<owner>/<name>/<environment>/releases/<job id>` and `current`, a
 * symlink switched atomically (a new link renamed over the old one) so readers never see it missing — on Windows a
 * directory junction, switched with the least gap Windows allows (see platform/release-link.ts).
 *
 * @example
 * const paths = releasePaths(agentDir, 'acme/shop', 'staging', jobId);
 * await switchCurrent(paths);
 * await pruneReleases(paths, 5);
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { readReleaseLink, switchReleaseLink } from './platform/release-link.js';

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

/**
 * Points `current` at `paths.release`: a relative symlink on Unix, a junction (absolute) on Windows.
 *
 * @example
 * await switchCurrent(releasePaths(agentDir, 'acme/shop', 'staging', jobId)); // current → releases/<jobId>
 */
export async function switchCurrent(paths: ReleasePaths, platform: NodeJS.Platform = process.platform): Promise<void> {
  await switchReleaseLink(paths.current, join('releases', basename(paths.release)), { platform });
}

/**
 * The release `current` points at, if any (a relative symlink and a junction's absolute target alike).
 *
 * @example
 * await currentRelease(paths); // 'job_1a2b_0_9f'
 */
export async function currentRelease(paths: ReleasePaths, platform: NodeJS.Platform = process.platform): Promise<string | undefined> {
  return readReleaseLink(paths.current, { platform });
}

/** Where a release made of artifacts alone keeps its commit's instruction file: `<base>/instructions/<release>.yml`. */
function instructionsCopy(paths: ReleasePaths): string {
  return join(paths.base, 'instructions', `${basename(paths.release)}.yml`);
}

/** Keeps the instruction file of a release that does not hold it (`source: artifact`), for a rollback to it. */
export async function keepInstructions(paths: ReleasePaths, text: string): Promise<void> {
  await mkdir(join(paths.base, 'instructions'), { recursive: true });
  await writeFile(instructionsCopy(paths), text);
}

/** The instruction file kept beside a release by {@link keepInstructions}, as readInstructionFile answers. */
export async function keptInstructions(paths: ReleasePaths): Promise<{ text: string } | { problem: string; missing?: boolean }> {
  return readFile(instructionsCopy(paths), 'utf8').then(
    (text) => ({ text }),
    () => ({ problem: 'no instruction file kept for it', missing: true }),
  );
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
    await rm(join(paths.base, 'instructions', `${dir.name}.yml`), { force: true });
    removed.push(dir.name);
  }
  return removed;
}

/** One release that went live (its steps and health gate passed), as `<base>/live-releases.json` lists them. */
interface LiveRelease {
  release: string;
  sha: string;
  at: string;
  /** SHA-256s of the artifacts it was made of (the artifact cache keeps them while the release is kept). */
  artifacts?: string[];
}

/** At most this many entries are kept: more than any `keepReleases`, so every kept release can be found. */
const MAX_LIVE_RELEASES = 200;

function liveReleasesFile(paths: ReleasePaths): string {
  return join(paths.base, 'live-releases.json');
}

async function readLiveReleases(paths: ReleasePaths): Promise<LiveRelease[]> {
  const text = await readFile(liveReleasesFile(paths), 'utf8').catch(() => '[]');
  try {
    const list = JSON.parse(text) as unknown;
    return Array.isArray(list) ? (list as LiveRelease[]).filter((r) => typeof r?.release === 'string' && typeof r.sha === 'string') : [];
  } catch {
    return []; // a torn write loses only the fast path of a rollback, never a deploy
  }
}

/**
 * Notes that the release in `paths` (of commit `sha`) went live, so a later rollback to that commit can restore it
 * instead of deploying it again. Written to a temporary file and renamed, so a crash never leaves half a list.
 */
export async function recordLiveRelease(paths: ReleasePaths, sha: string, artifacts: string[] = []): Promise<void> {
  const release = basename(paths.release);
  const known = await readLiveReleases(paths);
  // A kept release going live again (a rollback) was made of the same artifacts as when it was first recorded.
  const madeOf = artifacts.length ? artifacts : (known.find((r) => r.release === release)?.artifacts ?? []);
  const list = known.filter((r) => r.release !== release && existsSync(join(paths.releases, r.release)));
  list.push({ release, sha, at: new Date().toISOString(), ...(madeOf.length ? { artifacts: madeOf } : {}) });
  const temp = `${liveReleasesFile(paths)}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(list.slice(-MAX_LIVE_RELEASES)));
  await rename(temp, liveReleasesFile(paths));
}

/**
 * The directory of the newest kept release of commit `sha` that went live here, if it is still on disk.
 *
 * @example
 * await keptReleaseOf(paths, sha); // '/var/lib/bitenvoy/apps/acme/shop/production/releases/job_1a2b_0_9f'
 */
export async function keptReleaseOf(paths: ReleasePaths, sha: string): Promise<string | undefined> {
  const list = await readLiveReleases(paths);
  for (const entry of list.reverse()) {
    const dir = join(paths.releases, entry.release);
    if (entry.sha === sha && !entry.release.includes('/') && entry.release !== '..' && existsSync(dir)) return dir;
  }
  return undefined;
}

/**
 * The artifact digests the kept releases of every application on this server were made of: what the artifact cache
 * must keep (a rollback to a kept release's commit then needs no network). Reads one small file per application and
 * environment.
 *
 * @example
 * await pruneArtifactCache(cacheDir, await artifactsInUse(agentDir));
 */
export async function artifactsInUse(agentDir: string): Promise<Set<string>> {
  const inUse = new Set<string>();
  const apps = join(agentDir, 'apps');
  for (const owner of await readdir(apps).catch(() => [])) {
    for (const name of await readdir(join(apps, owner)).catch(() => [])) {
      for (const environment of await readdir(join(apps, owner, name)).catch(() => [])) {
        const paths = releasePaths(agentDir, `${owner}/${name}`, environment, 'none');
        for (const entry of await readLiveReleases(paths)) {
          if (existsSync(join(paths.releases, entry.release))) for (const digest of entry.artifacts ?? []) inUse.add(digest);
        }
      }
    }
  }
  return inUse;
}
