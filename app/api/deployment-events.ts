/**
 * `GET /api/v1/deployments/:id/events`: a deployment's summary as Server-Sent Events, so a follower (the CLI) gets a
 * new summary when something changed instead of asking for the whole of it four times a second.
 *
 * The stream sends `event: summary` with the current summary, then another only when the summary changed, at most
 * one per {@link StreamTimings.minGapMs}; a `: keepalive` comment when nothing was written for
 * {@link StreamTimings.keepaliveMs}; and, once the deployment is final, its last summary and `event: end`, and the
 * response ends. Changes are noticed from the engine's in-process signal (rollout/deployment-changes.ts) and, for
 * writes it cannot see (another hub replica, the CLI writing the store), by re-reading the summary every
 * {@link StreamTimings.recheckMs}. A summary read does not grow with the number of servers, and every stream of one
 * deployment shares one reader (pages/live-feeds.ts): a hundred followers cost one read per change, not a hundred.
 * The stream itself (headers, keepalive, the cap, slow readers, the hub stopping) is pages/page-event-stream.ts's.
 *
 * @example
 * const streams = new DeploymentStreams({ store, changes: engine.changes, shutdown });
 * router.get('/deployments/:id/events', (ctx) => streams.serve(ctx, ctx.params.id!, notFound));
 */
import type { Context } from 'koa';
import type { Logger } from '../../lib/logger.js';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { withoutCredentialsIn } from '../../lib/redact-url.js';
import { keys } from '../model.js';
import { LiveFeeds } from '../pages/live-feeds.js';
import { PageStreams } from '../pages/page-event-stream.js';
import type { DeploymentChanges } from '../rollout/deployment-changes.js';
import { readDeploymentSummary } from '../rollout/deployment-view.js';
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

export class DeploymentStreams {
  #store: Store;
  #streams: PageStreams;
  #feeds: LiveFeeds;

  constructor(deps: { store: Store; changes: DeploymentChanges; shutdown?: AbortSignal; timings?: Partial<StreamTimings> }) {
    const timings = { ...STREAM_DEFAULTS, ...deps.timings };
    this.#store = deps.store;
    this.#streams = new PageStreams({
      ...(deps.shutdown ? { shutdown: deps.shutdown } : {}),
      limits: { maxStreams: timings.maxStreams, keepaliveMs: timings.keepaliveMs },
    });
    this.#feeds = new LiveFeeds({ changes: deps.changes, timings: { minGapMs: timings.minGapMs, recheckMs: timings.recheckMs } });
  }

  /** Streams open now. */
  get open(): number {
    return this.#streams.count;
  }

  /**
   * Answers the request with the deployment's event stream, or throws (503 past the cap or while the hub stops,
   * `unknown(id)` for an id with no deployment) before anything is written, so errors get the usual JSON envelope.
   */
  async serve(ctx: Context, id: string, unknown: (id: string) => Error): Promise<void> {
    if (!(await this.#store.get(keys.deployment(id)))) throw unknown(id);
    const stream = this.#streams.start(ctx, {
      shuttingDown: 'the hub is shutting down: follow the deployment again in a moment (another replica, or this hub once restarted)',
      full: (max) => `this hub already serves ${max} deployment event streams: follow ${id} with \`GET /api/v1/deployments/${id}\` every few seconds instead, or open the stream again later`,
    });
    const stop = this.#feeds.listen(
      `summary|${id}`,
      id,
      async () => {
        const summary = await readDeploymentSummary(this.#store, id);
        if (!summary) return undefined;
        // Serialised once per read, whoever listens; the text is also what tells two summaries apart.
        const json = JSON.stringify(withoutCredentialsIn(summary));
        return { id: json, data: json, final: FINAL_DEPLOYMENT_STATES.includes(summary.deployment.state) };
      },
      (heard) => {
        if (stream.closed) return;
        // Gone (retention pruned it): the client's next request says so.
        if ('gone' in heard) return stream.close();
        if ('error' in heard) {
          // The client reconnects and reads the summary afresh; nothing is lost by ending here.
          (ctx.state.log as Logger | undefined)?.warn({ err: heard.error, deploymentId: id }, 'deployment event stream: reading the summary failed; the stream ends and the client reconnects');
          return stream.close();
        }
        stream.sendText('summary', heard.data as string);
        if (heard.final) {
          stream.send('end', {});
          stream.close();
        }
      },
    );
    stream.onClose(stop);
  }
}
