/**
 * Sign-in for the status pages. `GET /login` offers what this hub has: **Sign in with GitHub** (GitHub mode with
 * GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET, see github-sign-in-routes.ts) and the admin token — the single-operator
 * mode, audited as `admin`. Named local operators arrive through their one-time link (sign-in-link-routes.ts).
 * `POST /login` checks the admin token and starts a session (see dashboard-sessions.ts), `POST /logout` ends it.
 * The token only ever travels in a form post's body, never in a URL, and is never put in the cookie.
 */
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { clientAddress } from '../api/client-address.js';
import { ADMIN_TOKEN_GUESSES, GuessLimiter } from '../api/guess-limiter.js';
import { isAdminToken } from '../api/is-admin-token.js';
import type { Logger } from '../../lib/logger.js';
import { actorOf, type DashboardSessions, type SignedInAs } from './dashboard-sessions.js';
import { escapeHtml as e, page, setPrivatePageHeaders } from './html.js';
import { requireCsrfToken, requireSameOrigin, requireSession, sessionOf } from './page-guards.js';
import { readFormBody } from './read-form-body.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';
import { clearedSessionCookie, readSessionCookie, sessionCookie } from './session-cookie.js';

export interface SignInOptions {
  /** The limit of wrong admin-token guesses per address and overall, shared with the admin API. */
  guesses?: GuessLimiter;
  /** Whether Sign in with GitHub is configured: the page offers it first. */
  github?: boolean;
}

/**
 * @param options.guesses past the limit `POST /login` answers 429 with the sign-in page saying when to try again,
 * without looking at the token.
 */
export function signInRoutes(sessions: DashboardSessions, adminToken: string, options: SignInOptions = {}): Router {
  const router = new Router();
  const guesses = options.guesses ?? new GuessLimiter(ADMIN_TOKEN_GUESSES);
  const github = options.github === true;

  router.get('/login', async (ctx) => {
    const session = await sessions.find(readSessionCookie(ctx));
    const note = session
      ? `You are signed in as ${describe(session.who)} until ${session.expiresAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}.`
      : ctx.query.done === 'signed-out'
        ? 'You are signed out.'
        : undefined;
    answerSignInPage(ctx, 200, safeNext(ctx.query.next), { note, github });
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
      return answerSignInPage(ctx, 429, next, { error: `Too many wrong tokens ${who}. Try again in ${blocked.seconds} seconds (after ${at}).`, github });
    }
    if (!token || !isAdminToken(token, adminToken)) {
      if (token) guesses.failed(address, ctx.state.log as Logger | undefined);
      const error = token
        ? "That is not the hub's admin token. Paste the value of BITENVOY_ADMIN_TOKEN (or of the file $BITENVOY_DATA_DIR/admin-token on the hub) and try again."
        : 'Enter the admin token: the value of BITENVOY_ADMIN_TOKEN (or of the file $BITENVOY_DATA_DIR/admin-token on the hub).';
      return answerSignInPage(ctx, 401, next, { error, github });
    }
    // A form post of this hub's own page: the redirect that follows is same-site, so the Strict cookie goes with it.
    const session = await sessions.start({ kind: 'admin' });
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

/** "octocat (GitHub)", "alice (operator)", "the admin token". */
export function describe(who: SignedInAs): string {
  return who.kind === 'admin' ? 'the admin token (audited as admin)' : `${actorOf(who)} (${who.kind === 'github' ? 'GitHub' : 'operator'})`;
}

/**
 * Starts `who`'s session and goes on to `next` through a page of this hub rather than a redirect: when the sign-in
 * arrived from another site (GitHub's redirect back, a link clicked in a chat), a browser treats a redirect chain
 * that began there as cross-site and would not send the new SameSite=Strict cookie to `next`; a navigation this
 * page starts is same-site, so it does. Without a session on that navigation the person would be sent back to sign in.
 */
export async function answerSignedIn(ctx: Context, sessions: DashboardSessions, who: SignedInAs, next: string): Promise<void> {
  const session = await sessions.start(who);
  ctx.append('set-cookie', sessionCookie(session.id, sessions.secondsLeft(session), sessions.secure));
  setPrivatePageHeaders(ctx);
  ctx.set('referrer-policy', 'no-referrer');
  ctx.status = 200;
  ctx.type = 'html';
  ctx.body = page('Signed in', `<h1>Signed in</h1><p class="flash" role="status">You are signed in as ${e(describe(who))}.</p><p><a href="${e(next)}">Continue</a></p>`, 0, next);
}

function answerSignInPage(ctx: Context, status: number, next: string, message: { note?: string | undefined; error?: string; github: boolean }): void {
  setPrivatePageHeaders(ctx);
  ctx.status = status;
  ctx.type = 'html';
  const githubButton = message.github
    ? `<p><a class="button" href="/login/github?next=${e(encodeURIComponent(next))}">Sign in with GitHub</a></p>
<p><small>What you may see and do on each repository follows your permission on it in GitHub, and the audit log records your login.</small></p>
<h2>Or with the admin token</h2>`
    : '';
  ctx.body = page(
    'Sign in',
    `<h1>Sign in</h1>
${message.note ? `<p class="flash" role="status">${e(message.note)}</p>` : ''}
${message.error ? `<p class="error" role="alert">${e(message.error)}</p>` : ''}
${githubButton}
<form method="post" action="/login">
<p><label for="token">Admin token</label><br><input id="token" name="token" type="password" autocomplete="current-password" required${message.github ? '' : ' autofocus'}></p>
<input type="hidden" name="next" value="${e(next)}">
<p><button type="submit">Sign in</button></p>
</form>
<p><small>The admin token is the single-operator mode: it is shared, so what you do with it is recorded in the audit log as <code>admin</code>.
To have actions recorded under a person's name, the hub's admin gives each person a one-time sign-in link: <code>bitenvoy hub user create NAME</code>.
A sign-in lasts 12 hours; changing the admin token ends every sign-in.</small></p>`,
  );
}

/** Where to go after signing in: a path on this hub only, so the form cannot be used to send people elsewhere. */
export function safeNext(value: unknown): string {
  return typeof value === 'string' && value.length <= 300 && /^\/(?![/\\])[^\s\\]*$/.test(value) ? value : '/';
}
