/**
 * The checks in front of every form post of the status pages, as Koa middleware in the order they run:
 * same origin (403), signed in (401), CSRF token (403). The session cookie is SameSite=Strict already; the origin
 * check and the token each stop a forged post on their own, so one browser quirk does not open the buttons.
 *
 * @example
 * router.post('/deployments/:id/cancel', renderErrorsAsPages, requireSameOrigin(sessions), requireSession(sessions), requireCsrfToken, handler);
 */
import { timingSafeEqual } from 'node:crypto';
import type { Context, Middleware, Next } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import { hashSecret } from '../enroll/create-enroll-token.js';
import type { DashboardSession, DashboardSessions } from './dashboard-sessions.js';
import { readFormBody } from './read-form-body.js';
import { readSessionCookie } from './session-cookie.js';

/** The post must come from a page of this hub: `Origin`, or `Referer` when a browser sends no Origin. */
export function requireSameOrigin(sessions: DashboardSessions): Middleware {
  return async (ctx, next) => {
    const expected = sessions.origin;
    const from = requestOrigin(ctx);
    if (from !== expected) {
      const seen = from === undefined ? 'carries neither an Origin nor a Referer header' : `comes from ${from}`;
      throw new BitEnvoyError('BE_FORBIDDEN', `refused: this form post ${seen}, not from the hub's own pages at ${expected}; open the status page at ${expected} (BITENVOY_PUBLIC_URL) and use its buttons`);
    }
    await next();
  };
}

/** A signed-in session, put on `ctx.state.session`; 401 without one. */
export function requireSession(sessions: DashboardSessions): Middleware {
  return async (ctx, next) => {
    const session = await sessions.find(readSessionCookie(ctx));
    if (!session) {
      throw new BitEnvoyError('BE_UNAUTHORIZED', 'you are not signed in, or your sign-in ended (signed out, older than 12 hours, removed as an operator, or the admin token changed): sign in again, then try again');
    }
    ctx.state.session = session;
    await next();
  };
}

/** The form's `csrf` field must be the session's token; the parsed form is put on `ctx.state.form`. */
export async function requireCsrfToken(ctx: Context, next: Next): Promise<void> {
  const form = await readFormBody(ctx.req);
  const given = form.get('csrf');
  if (!given) throw new BitEnvoyError('BE_FORBIDDEN', 'refused: the form carries no CSRF token; reload the status page and use its buttons');
  // Hashed first, so the comparison does not depend on the lengths.
  if (!timingSafeEqual(Buffer.from(hashSecret(given)), Buffer.from(hashSecret(sessionOf(ctx).csrfToken)))) {
    throw new BitEnvoyError('BE_FORBIDDEN', "refused: the form's CSRF token is not this sign-in's (the page may be from an earlier sign-in); reload the status page and try again");
  }
  ctx.state.form = form;
  await next();
}

export function sessionOf(ctx: Context): DashboardSession {
  return ctx.state.session as DashboardSession;
}

function requestOrigin(ctx: Context): string | undefined {
  const origin = ctx.get('origin');
  // A privacy-minded browser may send `Origin: null`; that is no proof of where the post came from.
  if (origin) return origin;
  const referer = ctx.get('referer');
  if (!referer) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return `an unreadable Referer (${referer.slice(0, 100)})`;
  }
}
