/**
 * Sign-in for the status pages' buttons: `GET /login` asks for the admin token, `POST /login` checks it and starts a
 * session (see dashboard-sessions.ts), `POST /logout` ends it. The token only ever travels in a form post's body,
 * never in a URL, and is never put in the cookie.
 */
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { clientAddress } from '../api/client-address.js';
import { ADMIN_TOKEN_GUESSES, GuessLimiter } from '../api/guess-limiter.js';
import { isAdminToken } from '../api/is-admin-token.js';
import type { Logger } from '../../lib/logger.js';
import type { DashboardSessions } from './dashboard-sessions.js';
import { escapeHtml as e, page, setPrivatePageHeaders } from './html.js';
import { requireCsrfToken, requireSameOrigin, requireSession, sessionOf } from './page-guards.js';
import { readFormBody } from './read-form-body.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';
import { clearedSessionCookie, readSessionCookie, sessionCookie } from './session-cookie.js';

/**
 * @param guesses the limit of wrong admin-token guesses per address and overall, shared with the admin API: past it
 * `POST /login` answers 429 with the sign-in page saying when to try again, without looking at the token.
 */
export function signInRoutes(sessions: DashboardSessions, adminToken: string, guesses = new GuessLimiter(ADMIN_TOKEN_GUESSES)): Router {
  const router = new Router();

  router.get('/login', async (ctx) => {
    const session = await sessions.find(readSessionCookie(ctx));
    const note = session
      ? `You are signed in until ${session.expiresAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}.`
      : ctx.query.done === 'signed-out'
        ? 'You are signed out.'
        : undefined;
    answerSignInPage(ctx, 200, safeNext(ctx.query.next), { note });
  });

  router.post('/login', renderErrorsAsPages, requireSameOrigin(sessions), async (ctx) => {
    const form = await readFormBody(ctx.req);
    const token = form.get('token') ?? '';
    const next = safeNext(form.get('next'));
    const address = clientAddress(ctx);
    // Refused before the token is looked at: while blocked, even the right one gets this page.
    const blocked = token ? guesses.blocked(address) : undefined;
    if (blocked) {
      ctx.set('retry-after', String(blocked.seconds));
      const at = new Date(Date.now() + blocked.seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
      const who = blocked.byAddress ? 'came from your address' : 'were tried from many addresses';
      return answerSignInPage(ctx, 429, next, { error: `Too many wrong tokens ${who}. Try again in ${blocked.seconds} seconds (after ${at}).` });
    }
    if (!token || !isAdminToken(token, adminToken)) {
      if (token) guesses.failed(address, ctx.state.log as Logger | undefined);
      const error = token
        ? "That is not the hub's admin token. Paste the value of BITENVOY_ADMIN_TOKEN (or of the file $BITENVOY_DATA_DIR/admin-token on the hub) and try again."
        : 'Enter the admin token: the value of BITENVOY_ADMIN_TOKEN (or of the file $BITENVOY_DATA_DIR/admin-token on the hub).';
      return answerSignInPage(ctx, 401, next, { error });
    }
    const session = await sessions.start();
    ctx.append('set-cookie', sessionCookie(session.id, sessions.secondsLeft(session), sessions.secure));
    ctx.redirect(next);
    ctx.status = 303;
  });

  router.post('/logout', renderErrorsAsPages, requireSameOrigin(sessions), requireSession(sessions), requireCsrfToken, async (ctx) => {
    await sessions.end(sessionOf(ctx).id);
    ctx.append('set-cookie', clearedSessionCookie(sessions.secure));
    ctx.redirect('/login?done=signed-out');
    ctx.status = 303;
  });

  return router;
}

function answerSignInPage(ctx: Context, status: number, next: string, message: { note?: string | undefined; error?: string }): void {
  setPrivatePageHeaders(ctx);
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = page(
    'Sign in',
    `<h1>Sign in</h1>
<p>Signing in lets you continue or cancel rollouts from the status pages; reading them needs none.</p>
${message.note ? `<p class="flash" role="status">${e(message.note)}</p>` : ''}
${message.error ? `<p class="error" role="alert">${e(message.error)}</p>` : ''}
<form method="post" action="/login">
<p><label for="token">Admin token</label><br><input id="token" name="token" type="password" autocomplete="current-password" required autofocus></p>
<input type="hidden" name="next" value="${e(next)}">
<p><button type="submit">Sign in</button></p>
</form>
<p><small>The admin token is shared, so what you do here is recorded in the audit log as <code>dashboard</code>, not under your name.
A sign-in lasts 12 hours; changing the admin token ends every sign-in.</small></p>`,
  );
}

/** Where to go after signing in: a path on this hub only, so the form cannot be used to send people elsewhere. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && value.length <= 300 && /^\/(?![/\\])[^\s\\]*$/.test(value) ? value : '/';
}
