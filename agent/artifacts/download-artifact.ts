/**
 * Downloads one artifact the hub resolved into the agent's content-addressed cache (./artifact-cache.ts), checking
 * its SHA-256 before it gets its final name. Streams to disk (never the whole body in memory), resumes an
 * interrupted download with an HTTP range request, retries network errors and 5xx answers a few times with backoff,
 * and answers from the cache without a request when the artifact is already there.
 *
 * @example
 * const { path, bytesTransferred, fromCache } = await downloadArtifact({
 *   url: 'https://cdn.acme.com/builds/shop-1.4.2.tgz', sha256: 'ab12…', size: 52_428_800,
 *   cacheDir: '/var/lib/bitenvoy-agent/artifacts', log: (line) => job.log(line),
 * });
 */
import { mkdir, stat, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BitEnvoyError } from '../../lib/errors.js';
import { clipped } from '../listed.js';
import { artifactPaths, cachedSize, type ArtifactPaths } from './artifact-cache.js';
import { attemptDownload, isTransient } from './attempt-download.js';
import { shownUrl } from './artifact-url.js';
import { DiskWriteError } from './receive-artifact-body.js';

export interface DownloadArtifactOptions {
  /** Where the hub says the artifact is (its first URL; redirects are followed). */
  url: string;
  /** The expected SHA-256, 64 hex digits. */
  sha256: string;
  /** The declared size in bytes, if known: a source that sends more is refused at once. */
  size?: number;
  /** Request headers for the artifact's own origin (e.g. a short-lived token); dropped on a redirect elsewhere. */
  headers?: Record<string, string>;
  /** The agent's artifact cache folder. */
  cacheDir: string;
  signal?: AbortSignal;
  log(line: string): void;
  /** No byte for this long fails the attempt (and is retried). Default 30 s. */
  timeoutMs?: number;
  /** Attempts within this call. Default 4. */
  attempts?: number;
  /** Wait before the second attempt, doubled before each next one. Default 1 s. */
  retryDelayMs?: number;
}

export interface DownloadedArtifact {
  /** The verified file: `<cacheDir>/sha256/<hex>`. Read it; do not change it (other releases may use it). */
  path: string;
  /** Body bytes received over the network by this call (0 from the cache). */
  bytesTransferred: number;
  fromCache: boolean;
}

export async function downloadArtifact(options: DownloadArtifactOptions): Promise<DownloadedArtifact> {
  const shown = shownUrl(options.url);
  const hex = options.sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new BitEnvoyError('BE_ARTIFACT', `artifact ${shown}: the expected sha256 \`${clipped(options.sha256, 80)}\` is not 64 hex digits; the hub must send the artifact's SHA-256`);
  }
  const paths = artifactPaths(options.cacheDir, hex);
  if ((await cachedSize(paths)) !== undefined) {
    // The cache's prune spares recently used entries: a hit counts as a use.
    const now = new Date();
    await utimes(paths.final, now, now).catch(() => undefined);
    options.log(`artifact ${shown}: sha256 ${hex.slice(0, 12)}… is in the cache; nothing to download`);
    return { path: paths.final, bytesTransferred: 0, fromCache: true };
  }
  await mkdir(dirname(paths.final), { recursive: true });
  const progress = { transferred: 0 };
  const attempts = options.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    let failure: unknown;
    try {
      if (await attemptDownload(options, paths, hex, progress)) return { path: paths.final, bytesTransferred: progress.transferred, fromCache: false };
    } catch (err) {
      failure = err;
    }
    if (options.signal?.aborted) throw await cancelled(shown, paths, progress.transferred);
    if (failure !== undefined && !isTransient(failure)) throw asArtifactError(failure, shown);
    if (attempt >= attempts) throw await exhausted(failure, shown, paths, attempts);
    if (failure !== undefined) {
      const delay = (options.retryDelayMs ?? 1000) * 2 ** (attempt - 1);
      options.log(`artifact ${shown}: ${(failure as Error).message}; attempt ${attempt + 1} of ${attempts} in ${delay} ms, resuming from the bytes already here`);
      await sleep(delay, undefined, { signal: options.signal }).catch(() => undefined);
      if (options.signal?.aborted) throw await cancelled(shown, paths, progress.transferred);
    }
  }
}

async function partialSize(paths: ArtifactPaths): Promise<number> {
  return (await stat(paths.partial).catch(() => undefined))?.size ?? 0;
}

async function cancelled(shown: string, paths: ArtifactPaths, transferred: number): Promise<BitEnvoyError> {
  return new BitEnvoyError(
    'BE_ARTIFACT',
    `artifact ${shown}: the download was cancelled after ${transferred} bytes; the ${await partialSize(paths)} bytes received so far are kept and the next attempt resumes from them`,
  );
}

async function exhausted(failure: unknown, shown: string, paths: ArtifactPaths, attempts: number): Promise<BitEnvoyError> {
  const why = failure === undefined ? 'the source kept changing while it was downloaded' : (failure as Error).message;
  return new BitEnvoyError(
    'BE_ARTIFACT',
    `artifact ${shown}: the download failed ${attempts} times (last: ${why}); the ${await partialSize(paths)} bytes received so far are kept and the next deployment resumes from them; check that this server reaches the source`,
    { cause: failure },
  );
}

function asArtifactError(err: unknown, shown: string): BitEnvoyError {
  if (err instanceof BitEnvoyError) return err;
  if (err instanceof DiskWriteError) {
    return new BitEnvoyError('BE_ARTIFACT', `artifact ${shown}: ${err.message}; free space or fix the permissions of the agent's artifact cache`, { cause: err });
  }
  return new BitEnvoyError('BE_ARTIFACT', `artifact ${shown}: ${(err as Error).message}`, { cause: err });
}
