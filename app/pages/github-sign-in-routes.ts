/**
 * Sign in with GitHub (see auth/github-sign-in.ts for the flow and why it is safe): `GET /login/github` sends the
 * browser to GitHub with a fresh `state` (also put in a SameSite=Lax cookie of this browser), `GET
 * /login/github/callback` takes GitHub's answer, and a session in the person's login starts. Failed callbacks are
 * counted against the sign-in attempt limit; starting is limited per address too.
 *
 * @example
 * koa.use(githubSignInRoutes({ store, sessions, settings: settings.githubSignIn, publicUrl: () => publicUrl }).routes());
 */
import { Router } from '@koa/router';
import type { Logger } from '../../lib/logger.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { clientAddress } from '../api/client-address.js';
import { finishGitHubSignIn, SIGN_IN_STATE_TTL_MS, startGitHubSignIn, type GitHubSignInSettings } from '../auth/github-sign-in.js';
import { SignInAttempts } from '../auth/sign-in-attempts.js';
import type { Store } from '../store/store.js';
import type { DashboardSessions } from './dashboard-sessions.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';
import { clearedSignInStateCookie, readSignInStateCookie, signInStateCookie } from './session-cookie.js';
import { answerSignedIn, safeNext } from './sign-in-routes.js';

export const GITHUB_CALLBACK_PATH = '/login/github/callback';

export function githubSignInRoutes(deps: { store: Store; sessions: DashboardSessions; settings: GitHubSignInSettings; publicUrl: () => string; attempts?: SignInAttempts; fetch?: typeof fetch }): Router {
  const router = new Router();
  const attempts = deps.attempts ?? new SignInAttempts();
  const redirectUri = () => `${deps.publicUrl()}${GITHUB_CALLBACK_PATH}`;

  router.get('/login/github', renderErrorsAsPages, async (ctx) => {
    attempts.assertMayStart(clientAddress(ctx));
    const { state, authorizeUrl } = await startGitHubSignIn(deps.store, deps.settings, { next: safeNext(ctx.query.next), redirectUri: redirectUri() });
    ctx.append('set-cookie', signInStateCookie(state, SIGN_IN_STATE_TTL_MS / 1000, deps.sessions.secure));
    ctx.set('cache-control', 'no-store');
    ctx.redirect(authorizeUrl);
  });

  router.get(GITHUB_CALLBACK_PATH, renderErrorsAsPages, async (ctx) => {
    const address = clientAddress(ctx);
    attempts.assertMayTry(address);
    ctx.append('set-cookie', clearedSignInStateCookie(deps.sessions.secure));
    const q = ctx.query;
    if (typeof q.error === 'string') {
      // The person pressed "Cancel" on GitHub (access_denied), or the App's settings are wrong: not a probe.
      throw new BitEnvoyError('BE_UNAUTHORIZED', `GitHub did not sign you in (${q.error.slice(0, 60)}${typeof q.error_description === 'string' ? `: ${q.error_description.slice(0, 200)}` : ''}); start again from the sign-in page`);
    }
    try {
      const { login, next } = await finishGitHubSignIn(deps.store, deps.settings, {
        state: typeof q.state === 'string' ? q.state : undefined,
        stateCookie: readSignInStateCookie(ctx),
        code: typeof q.code === 'string' ? q.code : undefined,
        redirectUri: redirectUri(),
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      });
      (ctx.state.log as Logger | undefined)?.info({ login }, `dashboard: ${login} signed in with GitHub`);
      await answerSignedIn(ctx, deps.sessions, { kind: 'github', login }, next);
    } catch (err) {
      if (err instanceof BitEnvoyError && err.code !== 'BE_BUSY') attempts.failed(address, ctx.state.log as Logger | undefined);
      throw err;
    }
  });

  return router;
}
