/**
 * The nav bar's state for the agents and config pages: the section, and who is signed in — the session pageAccess
 * found, else the cookie's (public pages). Pages with a session are never cached (setPrivatePageHeaders).
 *
 * @example
 * ctx.body = page('Agents', body, undefined, undefined, await frameOf(ctx, sessions, 'agents'));
 */
import type { Context } from 'koa';
import { actorOf, type DashboardSession, type DashboardSessions } from './dashboard-sessions.js';
import { setPrivatePageHeaders, type Frame } from './html.js';
import { readSessionCookie } from './session-cookie.js';

export async function frameOf(ctx: Context, sessions: DashboardSessions | undefined, section: Frame['section']): Promise<Frame> {
  const session = (ctx.state.session as DashboardSession | undefined) ?? (sessions ? await sessions.find(readSessionCookie(ctx)) : undefined);
  if (sessions) setPrivatePageHeaders(ctx);
  return { ...(section ? { section } : {}), ...(sessions ? { signedIn: session ? { who: actorOf(session.who), csrfToken: session.csrfToken } : null } : {}) };
}
