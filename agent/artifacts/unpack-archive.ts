/**
 * Unpacks an artifact (tar, tar.gz or zip) into a new directory, treating the archive as hostile even after its
 * digest was checked: it may come from a compromised artifact store when provenance is not required. Every entry is
 * judged before it is written (paths, links, types, caps — see {@link ReleaseWriter}), content is streamed (a 1 GB
 * archive unpacks in bounded memory), and nothing is half-unpacked: entries go to a fresh directory beside `dest`,
 * renamed to `dest` only when all of them passed; on any refusal that directory is removed and `dest` stays absent.
 *
 * What the readers are: our own, on node:zlib and node:fs, so that every refusal is under our control and the agent
 * stays dependency-light.
 */
import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { BitEnvoyError } from '../../lib/errors.js';
import type { UnpackLimits } from './archive-entry.js';
import { asArtifactError } from './artifact-error.js';
import { readTar } from './read-tar.js';
import { readZip } from './read-zip.js';
import { ReleaseWriter } from './release-writer.js';
import { sniffArchiveFormat, type ArchiveFormat } from './sniff-archive-format.js';

export interface UnpackOptions {
  /** The archive's format; sniffed from its first bytes when not given. */
  format?: ArchiveFormat;
  /** Most entries (files, directories, links) the archive may hold; default 100,000. */
  maxEntries?: number;
  /** Most bytes the unpacked files may add up to, counted as they are written; default 4 GiB. */
  maxBytes?: number;
  /** Stops unpacking (the job was cancelled): the partial directory is removed. */
  signal?: AbortSignal;
}

export interface UnpackResult {
  /** Entries written, of every type. */
  entries: number;
  /** Bytes of file content written. */
  bytes: number;
}

export const DEFAULT_MAX_ENTRIES = 100_000;
export const DEFAULT_MAX_BYTES = 4 * 2 ** 30;
const PIECE = 64 * 1024;

/**
 * Unpacks `file` into `dest`, which must not exist yet; resolves with what was written, or throws a `BE_ARTIFACT`
 * BitEnvoyError that names the refused entry (or the archive) and says how to fix it, leaving `dest` absent.
 *
 * @example
 * const { entries, bytes } = await unpackArchive('/var/lib/bitenvoy/cache/ab12….tgz', releaseDir, { signal });
 */
export async function unpackArchive(file: string, dest: string, options: UnpackOptions = {}): Promise<UnpackResult> {
  const archive = basename(file);
  const target = resolve(dest);
  const limits: UnpackLimits = {
    maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    signal: options.signal,
  };
  const exists = await lstat(target).then(() => true, () => false);
  if (exists) {
    throw new BitEnvoyError('BE_ARTIFACT', `cannot unpack \`${archive}\` into ${target}: it already exists; unpack every artifact into a new directory`, {
      details: { archive, dest: target },
    });
  }
  let temp: string | undefined;
  try {
    const format = options.format ?? (await sniffArchiveFormat(file));
    await mkdir(dirname(target), { recursive: true });
    // Beside dest, so the final rename stays on one file system and is atomic; hidden, so nobody takes it for a release.
    temp = await mkdtemp(join(dirname(target), `.${basename(target)}.unpacking-`));
    const writer = new ReleaseWriter(temp, limits);
    const entries = format === 'zip' ? readZip(file, archive) : readTar(tarStream(file, format === 'tar.gz'), archive);
    for await (const entry of entries) await writer.write(entry);
    await writer.finish();
    await rename(temp, target);
    return { entries: writer.entries, bytes: writer.bytes };
  } catch (err) {
    if (temp) await rm(temp, { recursive: true, force: true });
    throw asArtifactError(err, archive);
  }
}

/** The tar bytes of `file`, gunzipped on the way when it is a tar.gz. */
function tarStream(file: string, gzipped: boolean): AsyncIterable<Buffer> {
  const raw = createReadStream(file, { highWaterMark: PIECE });
  if (!gzipped) return raw;
  const gunzip = createGunzip({ chunkSize: PIECE });
  // A read error reaches the gunzip stream, whose iteration throws it; stopping early destroys both.
  pipeline(raw, gunzip).catch(() => {});
  return gunzip;
}
