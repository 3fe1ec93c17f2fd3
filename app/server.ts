/**
 * The hub's one HTTP server: the webhook path goes to the webhook handler with the raw body intact (signature
 * checking needs it), the agents' long poll to its own lean handler (api/poll-route.ts); everything else goes to Koa.
 */
import { createServer, type Server } from 'node:http';
import Koa from 'koa';
import { Probot, ProbotOctokit, type ApplicationFunction } from 'probot';
import type { Logger } from '../lib/logger.js';
import { errorMiddleware } from './api/error-middleware.js';
import { isPollPath } from './api/poll-route.js';
import { createGitHubWebhookHandler, storeDeliveryLog, type NodeHandler } from './github/webhook-handler.js';
import type { Store } from './store/store.js';
import type { HubSettings } from './hub-settings.js';
import { githubRequestMetrics } from './metrics/github-request-metrics.js';
import type { HubMetrics } from './metrics/hub-metrics.js';

/** The Probot instance for the App's credentials, or undefined in local mode. */
export function createProbot(settings: HubSettings, log: Logger, metrics?: HubMetrics): Probot | undefined {
  if (!settings.github) return undefined;
  return new Probot({
    // Every GitHub client Probot makes (the App's, each installation's, each webhook handler's) counts its requests.
    ...(metrics ? { Octokit: ProbotOctokit.plugin(githubRequestMetrics(metrics)) } : {}),
    appId: settings.github.appId,
    privateKey: settings.github.privateKey,
    secret: settings.github.webhookSecret,
    log: log.child({ name: 'probot' }),
    ...(settings.github.baseUrl ? { baseUrl: settings.github.baseUrl } : {}),
  });
}

/**
 * The webhook path's handler, or undefined in local mode: bodies capped and streamed, signatures checked before
 * anything is parsed or logged, then Probot (see github/webhook-handler.ts).
 */
export async function createWebhookHandler(probot: Probot | undefined, appFn: ApplicationFunction, settings: HubSettings, log: Logger, metrics?: HubMetrics, store?: Store): Promise<NodeHandler | undefined> {
  if (!probot || !settings.github) return undefined;
  return createGitHubWebhookHandler({
    probot,
    appFn,
    secret: settings.github.webhookSecret,
    log: log.child({ name: 'webhooks' }),
    // Delivery ids are remembered in the store: a redelivery, on this replica or another, is handled once.
    ...(store ? { deliveries: storeDeliveryLog(store) } : {}),
    ...(metrics ? { onDelivery: (event: string | undefined, outcome: Parameters<HubMetrics['webhookDelivery']>[1]) => metrics.webhookDelivery(event, outcome) } : {}),
  });
}

/**
 * How many connections may wait to be accepted. A fleet reconnecting at once (a hub restart, a network blip) opens
 * thousands within a second; Node's default is 511. Linux caps it at `net.core.somaxconn` (4096 on kernels since
 * 5.4); raise that (`sysctl -w net.core.somaxconn=8192`) to get all of it.
 */
export const LISTEN_BACKLOG = 8192;

/**
 * The hub's server. Keep-alive suits a fleet of idle agents: each holds one connection for its long polls (up to
 * 50 s each), so an idle socket is kept longer than that; `requestTimeout` only counts until a request has fully
 * arrived (a held poll is not affected) and cuts senders of endless bodies.
 */
export function createHttpServer(options: { koa: Koa; webhook: NodeHandler | undefined; webhookPath: string; poll?: NodeHandler }): Server {
  const koaHandler = options.koa.callback();
  const server = createServer((req, res) => {
    if (options.poll && isPollPath(req.url)) return options.poll(req, res);
    const path = (req.url ?? '/').split('?')[0];
    if (path === options.webhookPath) {
      if (options.webhook) return options.webhook(req, res);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: {
            code: 'BE_GITHUB_NOT_CONFIGURED',
            message: 'this hub runs in local mode: set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET to receive GitHub webhooks',
          },
        }),
      );
      return;
    }
    void koaHandler(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 120_000;
  return server;
}

export function createKoa(log: Logger): Koa {
  const koa = new Koa();
  // Behind a reverse proxy: ctx.ip is the rightmost X-Forwarded-For entry, the one the nearest proxy wrote (a
  // client can only add entries to its left). Limits per client also check who connected (api/client-address.ts).
  koa.proxy = true;
  koa.maxIpsCount = 1;
  koa.use(errorMiddleware(log));
  return koa;
}
