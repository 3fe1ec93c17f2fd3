/**
 * The agent's content-addressed artifact cache: `<cacheDir>/sha256/<hex>` is an artifact whose bytes have that
 * SHA-256. A file gets that name only by a rename after its digest was checked (./download-artifact.ts), so a
 * present name means verified bytes: a repeat deployment or a rollback uses it without the network and without
 * hashing 200 MB again. `<hex>.partial` holds an interrupted download and `<hex>.partial.json` what it needs to resume.
 *
 * @example
 * const paths = artifactPaths('/var/lib/bitenvoy-agent/artifacts', hex);
 * await pruneArtifactCache('/var/lib/bitenvoy-agent/artifacts', new Set([hex]));
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ArtifactPaths {
  final: string;
  partial: string;
  sidecar: string;
}

/** What an interrupted download remembers: which URL (as a hash: a signed URL is a secret) and its validators. */
export interface ResumeSidecar {
  urlSha256: string;
  etag?: string;
  lastModified?: string;
}

export function artifactPaths(cacheDir: string, hex: string): ArtifactPaths {
  const final = join(cacheDir, 'sha256', hex);
  return { final, partial: `${final}.partial`, sidecar: `${final}.partial.json` };
}

/** The size of the cached artifact, or undefined when there is none. */
export async function cachedSize(paths: ArtifactPaths): Promise<number | undefined> {
  const found = await stat(paths.final).catch(() => undefined);
  return found?.isFile() ? found.size : undefined;
}

export function hashUrl(url: string): string {
  return createHash('sha256').update(url).digest('hex');
}

/** The sidecar of an interrupted download, or undefined when there is none or it cannot be read. */
export async function readSidecar(paths: ArtifactPaths): Promise<ResumeSidecar | undefined> {
  try {
    const value = JSON.parse(await readFile(paths.sidecar, 'utf8')) as ResumeSidecar;
    return typeof value.urlSha256 === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export async function writeSidecar(paths: ArtifactPaths, sidecar: ResumeSidecar): Promise<void> {
  await writeFile(paths.sidecar, JSON.stringify(sidecar), { mode: 0o600 });
}

/** Forgets an interrupted download (its bytes and its sidecar). */
export async function removePartial(paths: ArtifactPaths): Promise<void> {
  await rm(paths.partial, { force: true });
  await rm(paths.sidecar, { force: true });
}

/**
 * Gives a partial download whose digest was just checked its final name. Not flushed to the disk first (that cost a
 * fifth of a download's time): a power cut may leave a final name whose bytes the disk lost, so whoever uses an
 * entry checks its digest again as it reads it (deliver-artifacts.ts), and downloads it anew when it fails.
 */
export async function storeVerified(paths: ArtifactPaths): Promise<void> {
  await rename(paths.partial, paths.final);
  await rm(paths.sidecar, { force: true });
}

const ENTRY = /^([0-9a-f]{64})(\.partial|\.partial\.json)?$/;

/**
 * Deletes cached artifacts that no kept release uses. The caller passes `keep`, the digests its kept releases (and
 * the job under way) use: those are never deleted, whatever their age. Of the rest, only entries untouched for
 * `minAgeMs` (default one hour) go, so an artifact another job downloaded a moment ago, and not yet recorded in a
 * release, survives a prune that runs meanwhile; interrupted downloads (`.partial`) age out by the same rule. Only
 * regular files named like cache entries are ever deleted; anything else in the folder is left alone.
 *
 * Why by use and not by size or age alone: a rollback must find its artifact without the network, and only the
 * caller knows which releases it keeps.
 *
 * @example
 * const { removed, freedBytes } = await pruneArtifactCache(cacheDir, new Set(releases.map((r) => r.artifactSha256)));
 */
export async function pruneArtifactCache(
  cacheDir: string,
  keep: ReadonlySet<string>,
  options: { minAgeMs?: number; now?: number } = {},
): Promise<{ removed: string[]; freedBytes: number }> {
  const dir = join(cacheDir, 'sha256');
  const oldest = (options.now ?? Date.now()) - (options.minAgeMs ?? 3_600_000);
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const kept = new Set([...keep].map((hex) => hex.toLowerCase()));
  const removed: string[] = [];
  let freedBytes = 0;
  for (const name of names.sort()) {
    const hex = ENTRY.exec(name)?.[1];
    if (hex === undefined || kept.has(hex)) continue;
    const entry = await lstat(join(dir, name)).catch(() => undefined);
    if (!entry?.isFile() || entry.mtimeMs > oldest) continue;
    await rm(join(dir, name), { force: true });
    removed.push(name);
    freedBytes += entry.size;
  }
  return { removed, freedBytes };
}
