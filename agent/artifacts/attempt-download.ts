/**
 * One attempt of ./download-artifact.ts: resume the partial download if there is one for the same URL (a range
 * request, with `If-Range` when the source gave a validator), otherwise start from byte 0; stream the body to the
 * partial file while hashing; check the digest; give the file its final name. Returns false when the attempt found
 * it must start over at once (the source changed, cannot serve the rest, or the resumed bytes did not verify).
 *
 * @example
 * while (!(await attemptDownload(options, paths, hex, progress)));
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { BitEnvoyError } from '../../lib/errors.js';
import { hashUrl, readSidecar, removePartial, storeVerified, writeSidecar, type ArtifactPaths, type ResumeSidecar } from './artifact-cache.js';
import { shownUrl } from './artifact-url.js';
import type { DownloadArtifactOptions } from './download-artifact.js';
import { openArtifactResponse } from './open-artifact-response.js';
import type { RawResponse } from './raw-http-get.js';
import { digestOf, DiskWriteError, hashFile, receiveArtifactBody, TooLargeError } from './receive-artifact-body.js';

/** A failure worth another attempt: a 5xx, 408 or 429 answer, a body cut short. */
class TransientError extends Error {}

/** Network errors (whatever Node throws for a reset, a refused connection, a timeout) and {@link TransientError}s. */
export function isTransient(err: unknown): boolean {
  return !(err instanceof BitEnvoyError || err instanceof DiskWriteError || err instanceof TooLargeError);
}

export async function attemptDownload(options: DownloadArtifactOptions, paths: ArtifactPaths, hex: string, progress: { transferred: number }): Promise<boolean> {
  const shown = shownUrl(options.url);
  const log = (line: string) => options.log(`artifact ${shown}: ${line}`);
  const urlSha256 = hashUrl(options.url);
  const sidecar = await readSidecar(paths);
  let offset = sidecar?.urlSha256 === urlSha256 ? ((await stat(paths.partial).catch(() => undefined))?.size ?? 0) : 0;
  if (offset === 0) await removePartial(paths);
  if (options.size !== undefined && offset >= options.size) {
    // Everything had arrived before the agent stopped: no request needed if it verifies.
    if (offset === options.size && (await digestOf(paths.partial)) === hex) return stored(paths, log, hex);
    await removePartial(paths);
    offset = 0;
  }
  const validator = offset > 0 ? ifRangeValidator(sidecar) : undefined;
  const range: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-`, ...(validator ? { 'if-range': validator } : {}) } : {};
  if (offset > 0) log(`resuming at byte ${offset}`);
  const { response } = await openArtifactResponse(options.url, { headers: options.headers ?? {}, extraHeaders: range, timeoutMs: options.timeoutMs ?? 30_000, signal: options.signal });
  const status = response.statusCode;
  const append = status === 206 && offset > 0 && startsAt(response, offset) && sameValidators(sidecar, response);
  if (!append && (status === 206 || status === 416)) {
    response.destroy();
    log(`the source ${status === 416 ? 'cannot serve the rest (416)' : 'changed since the download was interrupted'}; starting over`);
    await removePartial(paths);
    return false;
  }
  if (status !== 200 && status !== 206) {
    response.destroy();
    throw statusError(status, shown);
  }
  if (!append) {
    if (offset > 0) log('the source sent the whole artifact again; starting over');
    offset = 0;
    await writeSidecar(paths, { urlSha256, ...validatorsOf(response) });
  }
  const declared = Number(response.headers['content-length'] ?? Number.NaN);
  const limit = options.size === undefined ? undefined : options.size - offset;
  const hash = createHash('sha256');
  try {
    if (limit !== undefined && declared > limit) throw new TooLargeError(`Content-Length ${declared} where ${limit} bytes were left`);
    if (append) await hashFile(paths.partial, hash);
    await receiveArtifactBody(response, paths.partial, hash, { append, limit, onBytes: (count) => (progress.transferred += count) });
  } catch (err) {
    if (!(err instanceof TooLargeError)) throw err;
    response.destroy();
    await removePartial(paths);
    throw new BitEnvoyError(
      'BE_ARTIFACT',
      `artifact ${shown}: the source sends more than the declared ${options.size} bytes (${err.message}); the download was stopped and deleted. If the artifact was rebuilt, deploy again so the hub resolves it anew; otherwise the source serves other bytes than planned`,
    );
  }
  const total = (await stat(paths.partial)).size;
  if (options.size !== undefined && total < options.size) throw new TransientError(`the source sent ${total} of the declared ${options.size} bytes`);
  const actual = hash.digest('hex');
  if (actual === hex) return stored(paths, log, hex);
  await removePartial(paths);
  if (append) {
    log(`the resumed download has sha256 ${actual}, not ${hex}; starting over from byte 0`);
    return false;
  }
  throw new BitEnvoyError(
    'BE_ARTIFACT',
    `artifact ${shown}: the downloaded bytes have sha256 ${actual}, but the hub expected ${hex}; they were deleted and nothing was used. ` +
      'If the artifact was rebuilt since the deployment was planned, deploy again so the hub resolves the new digest; otherwise the source (or something on the way) serves other bytes than planned: find out why before deploying it',
  );
}

async function stored(paths: ArtifactPaths, log: (line: string) => void, hex: string): Promise<true> {
  await storeVerified(paths);
  log(`sha256 ${hex} verified; stored in the artifact cache`);
  return true;
}

/** `If-Range` takes a strong ETag or a date; a weak ETag (`W/"…"`) may not be used there. */
function ifRangeValidator(sidecar: ResumeSidecar | undefined): string | undefined {
  if (sidecar?.etag && !sidecar.etag.startsWith('W/')) return sidecar.etag;
  return sidecar?.lastModified;
}

function validatorsOf(response: RawResponse): { etag?: string; lastModified?: string } {
  const { etag, 'last-modified': lastModified } = response.headers;
  return { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
}

/** A source that ignores `If-Range` but changed anyway shows it in the validators of its 206. */
function sameValidators(sidecar: ResumeSidecar | undefined, response: RawResponse): boolean {
  const now = validatorsOf(response);
  if (sidecar?.etag && now.etag && sidecar.etag !== now.etag) return false;
  return !(sidecar?.lastModified && now.lastModified && sidecar.lastModified !== now.lastModified);
}

function startsAt(response: RawResponse, offset: number): boolean {
  return new RegExp(`^bytes ${offset}-`).test(response.headers['content-range'] ?? '');
}

function statusError(status: number, shown: string): Error {
  if (status >= 500 || status === 408 || status === 429) return new TransientError(`the source answered HTTP ${status}`);
  const why =
    status === 401 || status === 403
      ? "the source refused the credentials the hub handed over, or they expired (GitHub's artifact tokens last about an hour): deploy again so the hub hands out fresh ones, or check the source's permissions"
      : status === 404 || status === 410
        ? 'the artifact is not there (Actions artifacts expire after their retention period): rebuild it, or fix where the repository\'s config says it is'
        : 'expected 200 or 206: check the artifact\'s URL in the repository\'s config';
  return new BitEnvoyError('BE_ARTIFACT', `artifact ${shown}: the source answered HTTP ${status}; ${why}`);
}
