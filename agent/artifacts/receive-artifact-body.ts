/**
 * Streams an artifact's body to a file while hashing it, never holding more than a write buffer in memory. Every
 * byte received is on disk before this returns or throws, so an interrupted download leaves a partial file whose
 * size is exactly what arrived, and the next attempt resumes from there.
 *
 * @example
 * const hash = createHash('sha256');
 * const received = await receiveArtifactBody(response, '/cache/sha256/ab….partial', hash, { append: false, limit: 1024 });
 */
import type { Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { once } from 'node:events';

/** More bytes than the artifact's declared size: final, not a network hiccup to retry. */
export class TooLargeError extends Error {}

/** The file could not be written (disk full, permissions): final too, and about this server, not the source. */
export class DiskWriteError extends Error {}

export async function receiveArtifactBody(
  response: IncomingMessage,
  file: string,
  hash: Hash,
  options: { append: boolean; limit?: number; onBytes?(count: number): void },
): Promise<number> {
  // 1 MiB writes: far fewer system calls than the socket's 64 KiB chunks, still a small, fixed amount of memory.
  if (response.destroyed && !response.complete) {
    // The connection was lost between the answer's headers and this read.
    throw response.errored ?? Object.assign(new Error('the connection closed mid-body'), { code: 'ECONNRESET' });
  }
  const out = createWriteStream(file, { flags: options.append ? 'a' : 'w', highWaterMark: 1 << 20, mode: 0o600 });
  let received = 0;
  let failure: unknown;
  const onDrain = () => response.resume();
  out.on('drain', onDrain);
  try {
    await new Promise<void>((resolve, reject) => {
      response.on('data', (chunk: Buffer) => {
        if (options.limit !== undefined && received + chunk.length > options.limit) {
          response.destroy(new TooLargeError(`more than the ${options.limit} bytes expected`));
          return;
        }
        received += chunk.length;
        options.onBytes?.(chunk.length);
        hash.update(chunk);
        if (!out.write(chunk)) response.pause();
      });
      response.once('end', resolve);
      response.once('error', reject);
      // A body cut short without an error (a server that closes mid-way without Content-Length) just ends; the
      // caller sees the size or the digest fall short.
      response.once('close', () => (response.complete ? resolve() : reject(Object.assign(new Error('the connection closed mid-body'), { code: 'ECONNRESET' }))));
      out.once('error', (err) => {
        response.destroy();
        reject(new DiskWriteError(`cannot write ${file}: ${err.message}`, { cause: err }));
      });
    });
  } catch (err) {
    failure = err;
  }
  out.off('drain', onDrain);
  // Whatever happened to the network, what was received goes to disk before the file is reused.
  if (!out.destroyed) {
    out.end();
    await once(out, 'close').catch(() => undefined);
  }
  if (failure !== undefined) throw failure;
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
