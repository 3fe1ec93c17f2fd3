/**
 * A named operator's one-time sign-in link (`bitenvoy hub user create NAME` prints it): `GET /login/link?token=…`
 * shows a page with one button, and its `POST /login/link` spends the token and starts the operator's session. The
 * GET spends nothing, so a chat's link preview or a mail scanner that fetches the link does not use it up; the token
 * leaves the address bar's page with the post, and the page sends no Referer to another site. Failed links count against the
 * sign-in attempt limit.
 *
 * @example
 * koa.use(signInLinkRoutes({ store, sessions }).routes());
 */
import { Router } from '@koa/router';
import type { Logger } from '../../lib/logger.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { clientAddress } from '../api/client-address.js';
import { redeemSignInLink } from '../auth/operators.js';
import { SignInAttempts } from '../auth/sign-in-attempts.js';
import type { Store } from '../store/store.js';
import type { DashboardSessions } from './dashboard-sessions.js';
import { escapeHtml as e, page, setPrivatePageHeaders } from './html.js';
import { requireSameOrigin } from './page-guards.js';
import { readFormBody } from './read-form-body.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';
import { answerSignedIn } from './sign-in-routes.js';

export function signInLinkRoutes(deps: { store: Store; sessions: DashboardSessions; attempts?: SignInAttempts }): Router {
  const router = new Router();
  const attempts = deps.attempts ?? new SignInAttempts();

  router.get('/login/link', (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    setPrivatePageHeaders(ctx);
    // The token is in this page's address: no other site learns it from a Referer. Not `no-referrer`: with it a browser
    // sends `Origin: null` with the page's own form post, which the same-origin check rightly refuses.
    ctx.set('referrer-policy', 'same-origin');
    ctx.type = 'html';
    ctx.body = page(
      'Sign in',
      `<h1>Sign in with your link</h1>
<p>This one-time link signs you in as the operator it was made for; what you then do is recorded under that name.</p>
<form method="post" action="/login/link"><input type="hidden" name="token" value="${e(token)}"><p><button type="submit">Sign in</button></p></form>`,
    );
  });

  // Same origin: a page elsewhere must not sign a visitor in as someone (login CSRF) with a link it holds.
  router.post('/login/link', renderErrorsAsPages, requireSameOrigin(deps.sessions), async (ctx) => {
    const address = clientAddress(ctx);
    attempts.assertMayTry(address);
    const token = (await readFormBody(ctx.req)).get('token') ?? '';
    let who;
    try {
      who = await redeemSignInLink(deps.store, token);
    } catch (err) {
      if (err instanceof BitEnvoyError) attempts.failed(address, ctx.state.log as Logger | undefined);
      throw err;
    }
    (ctx.state.log as Logger | undefined)?.info({ operator: who.login }, `dashboard: operator ${who.login} signed in with a one-time link`);
    await answerSignedIn(ctx, deps.sessions, { kind: 'operator', ...who }, '/');
  });

  return router;
}
