/**
 * `GET /api/v1/deployments/:id/events`: a deployment's summary as Server-Sent Events, so a follower (the CLI) gets a
 * new summary when something changed instead of asking for the whole of it four times a second.
 *
 * The stream sends `event: summary` with the current summary, then another only when the summary changed, at most
 * one per {@link StreamTimings.minGapMs}; a `: keepalive` comment when nothing was written for
 * {@link StreamTimings.keepaliveMs}; and, once the deployment is final, its last summary and `event: end`, and the
 * response ends. Changes are noticed from the engine's in-process signal (rollout/deployment-changes.ts) and, for
 * writes it cannot see (another hub replica, the CLI writing the store), by re-reading the summary every
 * {@link StreamTimings.recheckMs}. A summary read does not grow with the number of servers, and each open stream holds
 * one timer and one listener, released when the client goes away or the hub stops.
 *
 * @example
 * const streams = new DeploymentStreams({ store, changes: engine.changes, shutdown });
 * router.get('/deployments/:id/events', (ctx) => streams.serve(ctx, ctx.params.id!, notFound));
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { withoutCredentialsIn } from '../../lib/redact-url.js';
import type { DeploymentChanges } from '../rollout/deployment-changes.js';
import { readDeploymentSummary, type DeploymentSummary } from '../rollout/deployment-view.js';
import type { Store } from '../store/store.js';

export interface StreamTimings {
  /** Streams open at once on this hub; past it the route answers 503 BE_BUSY. */
  maxStreams: number;
  /** Least time between two reads of the summary prompted by the signal (so at most ~4 events a second). */
  minGapMs: number;
  /** How often the summary is read again without a signal, for changes written by another process. */
  recheckMs: number;
  /** A comment is written after this long without any write, so proxies and the client know the stream is alive. */
  keepaliveMs: number;
}

export const STREAM_DEFAULTS: StreamTimings = { maxStreams: 1000, minGapMs: 250, recheckMs: 1000, keepaliveMs: 15_000 };

/** Bytes a slow client may leave unread before its stream is cut (a summary is a few KiB). */
const MAX_UNREAD_BYTES = 1024 * 1024;

export class DeploymentStreams {
  #store: Store;
  #changes: DeploymentChanges;
  #shutdown: AbortSignal | undefined;
  #timings: StreamTimings;
  #open = 0;

  constructor(deps: { store: Store; changes: DeploymentChanges; shutdown?: AbortSignal; timings?: Partial<StreamTimings> }) {
    this.#store = deps.store;
    this.#changes = deps.changes;
    this.#shutdown = deps.shutdown;
    this.#timings = { ...STREAM_DEFAULTS, ...deps.timings };
  }

  /** Streams open now. */
  get open(): number {
    return this.#open;
  }

  /**
   * Answers the request with the deployment's event stream, or throws (503 past the cap, `unknown(id)` for an id with
   * no deployment) before anything is written, so errors get the usual JSON envelope.
   */
  async serve(ctx: Context, id: string, unknown: (id: string) => Error): Promise<void> {
    if (this.#shutdown?.aborted) {
      throw new BitEnvoyError('BE_BUSY', 'the hub is shutting down: follow the deployment again in a moment (another replica, or this hub once restarted)', { details: { retryAfterSeconds: 2 } });
    }
    if (this.#open >= this.#timings.maxStreams) {
      throw new BitEnvoyError(
        'BE_BUSY',
        `this hub already serves ${this.#timings.maxStreams} deployment event streams: follow ${id} with \`GET /api/v1/deployments/${id}\` every few seconds instead, or open the stream again later`,
        { details: { retryAfterSeconds: 5 } },
      );
    }
    // The slot is taken before the first read, so streams opened together cannot pass the cap between them.
    this.#open++;
    let first: DeploymentSummary | undefined;
    try {
      first = await readDeploymentSummary(this.#store, id);
    } catch (err) {
      this.#open--;
      throw err;
    }
    if (!first) {
      this.#open--;
      throw unknown(id);
    }
    ctx.respond = false;
    this.#stream(ctx.req, ctx.res, id, first, ctx.state.log as Logger | undefined);
  }

  #stream(req: IncomingMessage, res: ServerResponse, id: string, first: DeploymentSummary, log: Logger | undefined): void {
    const timings = this.#timings;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // nginx (and proxies that honour it) would otherwise hold events back to fill a buffer.
      'x-accel-buffering': 'no',
    });
    let lastSent = '';
    let lastWriteAt = 0;
    let lastReadAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    let due = 0;
    let reading = false;
    /** A wake-up came while a read ran: read again once it is done (it may have missed the change). */
    let again = false;
    let closed = false;

    const write = (text: string) => {
      res.write(text);
      lastWriteAt = Date.now();
      // A client that stopped reading must not make the hub hold every summary since: its connection is cut (and
      // `close` runs on that).
      if (res.writableLength > MAX_UNREAD_BYTES) res.destroy();
    };
    /** Writes the summary when it differs from the last one sent; true when the deployment is final. */
    const send = (summary: DeploymentSummary): boolean => {
      const json = JSON.stringify(withoutCredentialsIn(summary));
      if (json !== lastSent) write(`event: summary\ndata: ${json}\n\n`);
      lastSent = json;
      return FINAL_DEPLOYMENT_STATES.includes(summary.deployment.state);
    };
    /** One timer per stream: it runs at the earliest time anything asked for. */
    const wakeAt = (at: number) => {
      if (closed || (timer && due <= at)) return;
      clearTimeout(timer);
      due = at;
      timer = setTimeout(tick, Math.max(0, at - Date.now()));
    };
    const tick = () => {
      timer = undefined;
      if (closed) return;
      if (reading) return void (again = true);
      reading = true;
      again = false;
      lastReadAt = Date.now();
      readDeploymentSummary(this.#store, id).then(
        (summary) => {
          reading = false;
          if (closed) return;
          // Gone (retention pruned it): the client's next request says so.
          if (!summary) return close();
          if (send(summary)) return end();
          if (Date.now() - lastWriteAt >= timings.keepaliveMs) write(': keepalive\n\n');
          wakeAt(again ? lastReadAt + timings.minGapMs : Date.now() + Math.min(timings.recheckMs, timings.keepaliveMs));
        },
        (err: unknown) => {
          reading = false;
          // The client reconnects and reads the summary afresh; nothing is lost by ending here.
          log?.warn({ err, deploymentId: id }, 'deployment event stream: reading the summary failed; the stream ends and the client reconnects');
          close();
        },
      );
    };
    const end = () => {
      write('event: end\ndata: {}\n\n');
      close();
    };
    const close = () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      unsubscribe();
      this.#shutdown?.removeEventListener('abort', close);
      this.#open--;
      if (!res.writableEnded) res.end();
    };

    // A signal while a read runs schedules the next one after the gap; that read sees the change.
    const unsubscribe = this.#changes.subscribe(id, () => wakeAt(lastReadAt + timings.minGapMs));
    // The hub stopping ends the stream without `end`: the client reconnects (to another replica, or after restart).
    this.#shutdown?.addEventListener('abort', close, { once: true });
    res.on('close', close);
    req.on('error', close);
    // The client may have gone while the first summary was read: its `close` came before anyone listened.
    if (res.destroyed || req.socket.destroyed) return close();
    if (send(first)) return end();
    wakeAt(Date.now() + Math.min(timings.recheckMs, timings.keepaliveMs));
  }
}
