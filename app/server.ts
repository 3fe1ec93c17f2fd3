/**
 * The hub's one HTTP server: the webhook path goes to Probot's middleware with the raw body intact (signature
 * checking needs it); everything else goes to Koa.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Koa from 'koa';
import { createNodeMiddleware, Probot, type ApplicationFunction } from 'probot';
import type { Logger } from '../lib/logger.js';
import { errorMiddleware } from './api/error-middleware.js';
import type { HubSettings } from './hub-settings.js';

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The Probot instance for the App's credentials, or undefined in local mode. */
export function createProbot(settings: HubSettings, log: Logger): Probot | undefined {
  if (!settings.github) return undefined;
  return new Probot({
    appId: settings.github.appId,
    privateKey: settings.github.privateKey,
    secret: settings.github.webhookSecret,
    log: log.child({ name: 'probot' }),
    ...(settings.github.baseUrl ? { baseUrl: settings.github.baseUrl } : {}),
  });
}

export async function createWebhookHandler(probot: Probot | undefined, appFn: ApplicationFunction, settings: HubSettings, log: Logger): Promise<NodeHandler | undefined> {
  if (!probot) return undefined;
  const middleware = await createNodeMiddleware(appFn, { probot, webhooksPath: settings.webhookPath });
  return (req, res) => {
    void Promise.resolve(middleware(req, res)).catch((err: unknown) => {
      log.error({ err }, 'webhook handling failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'BE_INTERNAL', message: 'webhook handling failed; the hub log has the details' } }));
    });
  };
}

export function createHttpServer(options: { koa: Koa; webhook: NodeHandler | undefined; webhookPath: string }): Server {
  const koaHandler = options.koa.callback();
  return createServer((req, res) => {
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
}

export function createKoa(log: Logger): Koa {
  const koa = new Koa();
  koa.proxy = true;
  koa.use(errorMiddleware(log));
  return koa;
}
