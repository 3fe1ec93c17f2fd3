import type { Middleware } from 'koa';
import { toErrorEnvelope } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { cutUnreadBody } from './cut-unread-body.js';
import { requestIdFrom } from './request-id.js';

/**
 * Gives each request a child logger (with `x-request-id`), answers every error with the one JSON envelope, logs it
 * once, and turns unknown routes into a JSON 404. A refusal whose `details.retryAfterSeconds` is set also carries
 * the `Retry-After` header; after a refusal sent before the request's body was read, the connection is cut (see
 * cut-unread-body.ts), so an unread (possibly endless) upload is not drained.
 */
export function errorMiddleware(log: Logger): Middleware {
  return async (ctx, next) => {
    const requestId = requestIdFrom(ctx.get('x-request-id'));
    ctx.state.log = log.child({ requestId });
    ctx.set('x-request-id', requestId);
    try {
      await next();
      // Koa and the router answer unknown routes and methods with plain text; agents and scripts expect JSON.
      if (ctx.status === 404 && ctx.body == null) {
        ctx.status = 404;
        ctx.body = { error: { code: 'BE_NOT_FOUND', message: `no route ${ctx.method} ${ctx.path.slice(0, 200)}` } };
      } else if ((ctx.status === 405 || ctx.status === 501) && ctx.body == null) {
        const allowed = ctx.response.get('allow');
        ctx.body = {
          error: { code: 'BE_METHOD_NOT_ALLOWED', message: `${ctx.method} ${ctx.path.slice(0, 200)} is not allowed${allowed ? `; this route accepts ${allowed}` : ''}` },
        };
      }
    } catch (err) {
      const { status, body } = toErrorEnvelope(err);
      ctx.status = status;
      ctx.body = body;
      const retryAfter = body.error.details?.retryAfterSeconds;
      if (typeof retryAfter === 'number') ctx.set('retry-after', String(retryAfter));
      const reqLog = ctx.state.log as Logger;
      if (status >= 500) reqLog.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      // A flood of refused requests must not become a flood of log lines: the limiters log when one starts.
      else if (status === 429) reqLog.debug({ method: ctx.method, path: ctx.path, status, code: body.error.code }, body.error.message);
      else reqLog.info({ method: ctx.method, path: ctx.path, status, code: body.error.code }, body.error.message);
    } finally {
      if (ctx.status >= 400) cutUnreadBody(ctx.req, ctx.res);
    }
  };
}
