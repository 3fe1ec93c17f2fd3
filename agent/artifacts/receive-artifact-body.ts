/**
 * Streams an artifact's body to a file while hashing it, never holding more than the connection's read buffer in
 * memory. Every byte received is in the file before this returns or throws, so an interrupted download leaves a partial file whose
 * size is exactly what arrived, and the next attempt resumes from there.
 *
 * @example
 * const hash = createHash('sha256');
 * const received = await receiveArtifactBody(response, '/cache/sha256/ab….partial', hash, { append: false, limit: 1024 });
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import type { RawResponse } from './raw-http-get.js';

/** More bytes than the artifact's declared size: final, not a network hiccup to retry. */
export class TooLargeError extends Error {}

/** The file could not be written (disk full, permissions): final too, and about this server, not the source. */
export class DiskWriteError extends Error {}

export async function receiveArtifactBody(
  response: RawResponse,
  file: string,
  hash: Hash,
  options: { append: boolean; limit?: number; onBytes?(count: number): void },
): Promise<number> {
  let fd: number;
  try {
    fd = openSync(file, options.append ? 'a' : 'w', 0o600);
  } catch (err) {
    response.destroy();
    throw new DiskWriteError(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  let received = 0;
  try {
    // Each piece is a view of the connection's one read buffer: hashed and written at once, synchronously (a write
    // to the page cache is short; the buffer is read into again as soon as this returns).
    await response.readBody((chunk) => {
      if (options.limit !== undefined && received + chunk.length > options.limit) {
        throw new TooLargeError(`more than the ${options.limit} bytes expected`);
      }
      try {
        writeSync(fd, chunk);
      } catch (err) {
        throw new DiskWriteError(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
      }
      received += chunk.length;
      options.onBytes?.(chunk.length);
      hash.update(chunk);
    });
  } finally {
    // Whatever happened to the network, what was received is in the file before it is reused.
    closeSync(fd);
  }
  return received;
}

/** Feeds the bytes already in `file` to `hash` (resuming: the digest covers the whole artifact, not the new part). */
export async function hashFile(file: string, hash: Hash): Promise<number> {
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    hash.update(chunk);
  }
  return size;
}

/** The SHA-256 (hex) of a file's bytes. */
export async function digestOf(file: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFile(file, hash);
  return hash.digest('hex');
}
