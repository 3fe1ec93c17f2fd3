/**
 * The live parts of the deployment pages, with the same access as the pages (page-access.ts covers `/deployments/…`):
 *
 * - `GET /deployments/:id/live` (`?state=`, `?after=` as the page): Server-Sent Events. `event: update` carries the
 *   page's changing part rendered by the hub (deployment-live-html.ts) with an `id` that is a hash of it; one reader
 *   per deployment view serves every open stream (live-feeds.ts). A reconnect sends `Last-Event-ID` (the page's first
 *   connection passes the id of what it shows as `?since=`): while the view has not changed since, nothing is sent.
 *   `event: end` once the deployment is final.
 * - `GET /deployments/:id/servers/:jobId/live?after=<cursor>`: `event: log` with the text added since the cursor,
 *   its `id` the cursor after it (read-log-after.ts), so a reconnect resumes exactly there; `event: server` with the
 *   server's state and steps when they change; `event: end` once the job is final and its log read.
 * - `GET /deployments/:id/servers/:jobId/log`: the whole log the hub keeps, as a text/plain attachment.
 *
 * @example
 * router.use(deploymentLiveRoutes({ store, changes: engine.changes, shutdown }).routes());
 */
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { FINAL_JOB_STATES, JOB_STATES } from '../../lib/protocol.js';
import { withoutCredentials } from '../../lib/redact-url.js';
import { parseLogCursor, readLogAfter } from '../jobs/read-log-after.js';
import { keys, type DeploymentRecord, type JobRecord } from '../model.js';
import type { DeploymentChanges } from '../rollout/deployment-changes.js';
import { readServerDetail } from '../rollout/deployment-view.js';
import type { Store } from '../store/store.js';
import { readLiveView, viewId, type LiveClock, type LiveQuery } from './deployment-live-html.js';
import { logEndCursor, readKeptLog } from './job-log-text.js';
import { LiveFeeds, type FeedTimings } from './live-feeds.js';
import { lastEventId, PageStreams, type PageStreamLimits } from './page-event-stream.js';
import { serverFactsHtml } from './servers-html.js';

export interface LiveRouteDeps {
  store: Store;
  changes: DeploymentChanges;
  shutdown?: AbortSignal;
  limits?: Partial<PageStreamLimits>;
  timings?: Partial<FeedTimings & { logPollMs: number }>;
  clock?: LiveClock;
}

/** How often a log stream looks for new log (the agent sends chunks about once a second). */
const LOG_POLL_MS = 1000;
/** Reads of at most 64 KiB a log stream makes per look, so one busy log cannot hold the hub. */
const LOG_READS_PER_LOOK = 4;

export function deploymentLiveRoutes(deps: LiveRouteDeps): Router {
  const { store } = deps;
  const streams = new PageStreams({ ...(deps.shutdown ? { shutdown: deps.shutdown } : {}), ...(deps.limits ? { limits: deps.limits } : {}) });
  const feeds = new LiveFeeds({ changes: deps.changes, ...(deps.timings ? { timings: deps.timings } : {}) });
  const router = new Router();

  router.get('/deployments/:id/live', async (ctx) => {
    const id = ctx.params.id!;
    const d = await store.get<DeploymentRecord>(keys.deployment(id));
    if (!d) throw new BitEnvoyError('BE_NOT_FOUND', `no deployment ${id}: it may have been made on another hub`);
    const query = liveQuery(ctx);
    const resumeFrom = lastEventId(ctx) ?? (typeof ctx.query.since === 'string' && ctx.query.since.length <= 64 ? ctx.query.since : undefined);
    const stream = streams.start(ctx);
    let lastSent = resumeFrom;
    const stop = feeds.listen(
      `${id}|${query.state ?? ''}|${query.after ?? ''}`,
      id,
      async () => {
        const dep = await store.get<DeploymentRecord>(keys.deployment(id));
        if (!dep) return undefined;
        const view = await readLiveView(store, dep, query, deps.clock);
        return { id: viewId(view), data: { html: view.html.toString(), actions: view.actions, final: view.final }, final: view.final };
      },
      (heard) => {
        if (stream.closed) return;
        if ('gone' in heard) return stream.close();
        if ('error' in heard) {
          (ctx.state.log as Logger | undefined)?.warn({ err: heard.error, deploymentId: id }, 'deployment page stream: reading the deployment failed; the browser reconnects');
          return stream.close();
        }
        // A browser that reconnects with the id of what it shows is sent nothing until something changes.
        if (heard.id !== lastSent) stream.send('update', heard.data, heard.id);
        lastSent = heard.id;
        if (heard.final) {
          stream.send('end', {});
          stream.close();
        }
      },
    );
    stream.onClose(stop);
  });

  router.get('/deployments/:id/servers/:jobId/live', async (ctx) => {
    const { server } = await findServer(store, ctx);
    const resume = lastEventId(ctx) ?? (typeof ctx.query.after === 'string' ? ctx.query.after : undefined);
    let cursor = resume ? parseLogCursor(resume) : parseLogCursor((await logEndCursor(store, server)).cursor);
    const stream = streams.start(ctx);
    let lastFacts = '';
    let timer: NodeJS.Timeout | undefined;
    const look = async () => {
      const job = await store.get<JobRecord>(keys.job(server.id));
      if (!job || stream.closed) return stream.close();
      const facts = serverFactsHtml({ ...job, id: server.id, agentName: server.agentName }).toString();
      if (facts !== lastFacts) stream.send('server', { html: facts, state: job.state });
      lastFacts = facts;
      for (let i = 0; i < LOG_READS_PER_LOOK; i++) {
        const read = await readLogAfter(store, job, cursor);
        cursor = parseLogCursor(read.next);
        if (read.data) stream.send('log', { text: withoutCredentials((read.dropped ? '[bitenvoy: some log was dropped before it was shown]\n' : '') + read.data) }, read.next);
        if (!read.more) {
          if (FINAL_JOB_STATES.includes(job.state)) {
            stream.send('end', {});
            return stream.close();
          }
          break;
        }
      }
      if (!stream.closed) timer = setTimeout(tick, deps.timings?.logPollMs ?? LOG_POLL_MS);
    };
    const tick = () =>
      void look().catch((err: unknown) => {
        (ctx.state.log as Logger | undefined)?.warn({ err, jobId: server.id }, 'server log stream: reading the log failed; the browser reconnects');
        stream.close();
      });
    stream.onClose(() => clearTimeout(timer));
    tick();
  });

  router.get('/deployments/:id/servers/:jobId/log', async (ctx) => {
    const { d, server } = await findServer(store, ctx);
    const name = `${d.id}-${server.agentName}-${server.id}`.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 150);
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('content-disposition', `attachment; filename="${name}.log"`);
    ctx.set('x-content-type-options', 'nosniff');
    ctx.body = await readKeptLog(store, server);
  });

  return router;
}

/** The page's `?state=` and `?after=`, checked as the page checks them (anything else is ignored). */
export function liveQuery(ctx: Context): LiveQuery {
  const state = JOB_STATES.find((s) => s === ctx.query.state);
  const after = typeof ctx.query.after === 'string' && /^\d{1,16}$/.test(ctx.query.after) ? ctx.query.after : undefined;
  return { ...(after ? { after } : {}), ...(state ? { state } : {}) };
}

async function findServer(store: Store, ctx: Context) {
  const id = ctx.params.id!;
  const d = await store.get<DeploymentRecord>(keys.deployment(id));
  if (!d) throw new BitEnvoyError('BE_NOT_FOUND', `no deployment ${id}: it may have been made on another hub`);
  const server = await readServerDetail(store, d, ctx.params.jobId!);
  if (!server) throw new BitEnvoyError('BE_NOT_FOUND', `deployment ${id} has no server job ${ctx.params.jobId}`);
  return { d, server };
}
