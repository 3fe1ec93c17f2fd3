/**
 * Where Prometheus reads the hub's metrics: `GET /metrics` on the hub's own port behind the admin token (Prometheus
 * sends it with `authorization: { credentials: … }`), or — with BITENVOY_METRICS_PORT — on a port of its own that
 * answers only `/metrics`, without a token, for a network only Prometheus reaches.
 *
 * @example
 * koa.use(metricsRoutes(metrics, { adminToken, guesses }).routes());
 * const server = await listenForMetrics(metrics, { port: 9464, host: '10.0.0.5' }, log);
 */
import { createServer, type Server } from 'node:http';
import Router from '@koa/router';
import { BitEnvoyError, toErrorEnvelope } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { adminAuth } from '../api/admin-routes.js';
import type { GuessLimiter } from '../api/guess-limiter.js';
import type { HubMetrics } from './hub-metrics.js';

export function metricsRoutes(metrics: HubMetrics, auth: { adminToken: string; guesses: GuessLimiter }): Router {
  const router = new Router();
  router.get('/metrics', adminAuth(auth.adminToken, auth.guesses), async (ctx) => {
    ctx.set('content-type', metrics.contentType);
    ctx.body = await metrics.render();
  });
  return router;
}

/** A server of its own for `/metrics` (BITENVOY_METRICS_PORT); everything else there is 404. */
export async function listenForMetrics(metrics: HubMetrics, where: { port: number; host: string | undefined }, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const refuse = (err: BitEnvoyError) => {
      const { status, body } = toErrorEnvelope(err);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (path !== '/metrics') return refuse(new BitEnvoyError('BE_NOT_FOUND', `${path} is not served here: this is the metrics port (BITENVOY_METRICS_PORT); read /metrics`));
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(new BitEnvoyError('BE_METHOD_NOT_ALLOWED', `${req.method} /metrics is not allowed; use GET`));
    metrics.render().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => {
        log.error({ err }, 'collecting the metrics failed');
        refuse(new BitEnvoyError('BE_BUSY', 'collecting the metrics failed (the store did not answer?); the hub log says why'));
      },
    );
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new BitEnvoyError('BE_USAGE', `BITENVOY_METRICS_PORT=${where.port}: the port is in use by another process; choose a free one`)
          : err,
      ),
    );
    server.listen({ port: where.port, host: where.host }, () => resolve());
  });
  return server;
}
