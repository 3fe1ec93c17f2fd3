/**
 * Pulls exact byte counts out of a stream of chunks of any size: a 512-byte tar header, then a body of `size` bytes
 * handed on piece by piece, never gathered. Pulling is what bounds memory: the stream is read only as fast as the
 * pieces are written out.
 *
 * @example
 * const reader = new ChunkReader(createReadStream(file));
 * const header = await reader.read(512); // shorter only at the end of the stream
 * for await (const piece of reader.pieces(size)) await out.write(piece);
 */

const EMPTY: Buffer = Buffer.alloc(0);

export class ChunkReader {
  #chunks: AsyncIterator<Buffer>;
  #pending: Buffer = EMPTY;
  #ended = false;

  constructor(chunks: AsyncIterable<Buffer>) {
    this.#chunks = chunks[Symbol.asyncIterator]();
  }

  /** Up to `length` bytes (meant for small reads: they are gathered); fewer only when the stream ends. */
  async read(length: number): Promise<Buffer> {
    while (this.#pending.length < length && (await this.#pull())) {
      // pulled into #pending
    }
    return this.#take(length);
  }

  /** The next `length` bytes in pieces as they arrive; stops early when the stream ends (the caller counts). */
  async *pieces(length: number): AsyncGenerator<Buffer, void, undefined> {
    let left = length;
    while (left > 0) {
      if (this.#pending.length === 0 && !(await this.#pull())) return;
      const piece = this.#take(left);
      left -= piece.length;
      yield piece;
    }
  }

  /** Skips `length` bytes; the number skipped (less only when the stream ended). */
  async skip(length: number): Promise<number> {
    let skipped = 0;
    for await (const piece of this.pieces(length)) skipped += piece.length;
    return skipped;
  }

  /** Stops reading: the source is destroyed (its file closed). */
  async close(): Promise<void> {
    this.#ended = true;
    await this.#chunks.return?.();
  }

  async #pull(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#chunks.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    const chunk = next.value;
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    return true;
  }

  #take(length: number): Buffer {
    const piece = this.#pending.subarray(0, Math.min(length, this.#pending.length));
    this.#pending = this.#pending.subarray(piece.length);
    return piece;
  }
}
