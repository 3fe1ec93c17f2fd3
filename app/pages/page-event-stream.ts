/**
 * Server-Sent Events for the status pages (`/deployments/:id/live`, `…/servers/:jobId/live`) and the admin API's
 * deployment stream (api/deployment-events.ts): the response headers,
 * a `: keepalive` comment after a quiet spell, a cap on streams open at once, and an end when the client goes away,
 * reads too slowly, or the hub stops. Each event may carry an `id`; a browser sends the last one back as
 * `Last-Event-ID` when it reconnects, and the route resumes from it.
 *
 * @example
 * const stream = streams.start(ctx);           // throws BE_BUSY past the cap, before anything is written
 * stream.send('update', { html }, 'v1a2b');
 * stream.onClose(() => unsubscribe());
 */
import type { Context } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';

export interface PageStreamLimits {
  /** Streams open at once on this hub (deployment and log streams together); past it the route answers 503. */
  maxStreams: number;
  /** A comment is written after this long without any write. */
  keepaliveMs: number;
}

export const PAGE_STREAM_DEFAULTS: PageStreamLimits = { maxStreams: 1000, keepaliveMs: 15_000 };

/** What a refused stream's 503 says: while the hub stops, and past the cap. Each names what the reader should do. */
export interface StreamRefusals {
  shuttingDown: string;
  full(maxStreams: number): string;
}

const PAGE_REFUSALS: StreamRefusals = {
  shuttingDown: 'the hub is shutting down: the page reconnects in a moment',
  full: (max) => `this hub already serves ${max} live page streams: reload the page to see progress, or try again later`,
};

/** Bytes a slow client may leave unread before its stream is cut. */
const MAX_UNREAD_BYTES = 1024 * 1024;

export interface PageStream {
  send(event: string, data: unknown, id?: string): void;
  /** Sends data already serialised as one line of JSON (shared by every stream it goes to). */
  sendText(event: string, json: string, id?: string): void;
  /** Runs `fn` once when the stream ends, whoever ends it. */
  onClose(fn: () => void): void;
  close(): void;
  readonly closed: boolean;
}

export class PageStreams {
  #open = 0;
  #limits: PageStreamLimits;
  #shutdown: AbortSignal | undefined;

  #refusals = PAGE_REFUSALS;

  constructor(options: { shutdown?: AbortSignal; limits?: Partial<PageStreamLimits> } = {}) {
    this.#shutdown = options.shutdown;
    this.#limits = { ...PAGE_STREAM_DEFAULTS, ...options.limits };
  }

  /** Streams open now. */
  get count(): number {
    return this.#open;
  }

  /** Takes a slot (or throws 503 saying what to do instead) and answers with an event stream. */
  start(ctx: Context, refusals: StreamRefusals = this.#refusals): PageStream {
    if (this.#shutdown?.aborted) throw new BitEnvoyError('BE_BUSY', refusals.shuttingDown, { details: { retryAfterSeconds: 2 } });
    if (this.#open >= this.#limits.maxStreams) throw new BitEnvoyError('BE_BUSY', refusals.full(this.#limits.maxStreams), { details: { retryAfterSeconds: 5 } });
    this.#open++;
    ctx.respond = false;
    const { req, res } = ctx;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    const closers: Array<() => void> = [];
    let closed = false;
    let lastWriteAt = Date.now();
    const write = (text: string) => {
      if (closed) return;
      res.write(text);
      lastWriteAt = Date.now();
      if (res.writableLength > MAX_UNREAD_BYTES) res.destroy();
    };
    const keepalive = setInterval(() => {
      if (Date.now() - lastWriteAt >= this.#limits.keepaliveMs) write(': keepalive\n\n');
    }, Math.max(10, Math.floor(this.#limits.keepaliveMs / 2)));
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepalive);
      this.#shutdown?.removeEventListener('abort', close);
      this.#open--;
      if (!res.writableEnded) res.end();
      for (const fn of closers) fn();
    };
    this.#shutdown?.addEventListener('abort', close, { once: true });
    res.on('close', close);
    req.on('error', close);
    // Tells the browser to wait 2 s before reconnecting after the hub ended the stream without `end`.
    write('retry: 2000\n\n');
    const stream: PageStream = {
      // JSON data is one line; an id never holds a newline (ours are hashes and log cursors).
      send: (event, data, id) => stream.sendText(event, JSON.stringify(data), id),
      sendText: (event, json, id) => write(`event: ${event}\n${id ? `id: ${id.replace(/[\r\n]/g, '')}\n` : ''}data: ${json.replace(/[\r\n]/g, '')}\n\n`),
      onClose: (fn) => (closed ? fn() : void closers.push(fn)),
      close,
      get closed() {
        return closed;
      },
    };
    if (res.destroyed || req.socket.destroyed) close();
    return stream;
  }
}

/** The `Last-Event-ID` a reconnecting browser sent (bounded), or undefined. */
export function lastEventId(ctx: Context): string | undefined {
  const raw = ctx.get('last-event-id');
  return raw && raw.length <= 200 ? raw : undefined;
}
