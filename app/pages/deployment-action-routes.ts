/**
 * The status page's buttons: `POST /deployments/:id/continue` releases a rollout held at a gate between batches,
 * `POST /deployments/:id/cancel` stops it. Both need a signed-in session, a post from the hub's own origin and the
 * session's CSRF token (page-guards.ts); a confirm() in the page is a courtesy the server does not count on.
 *
 * The actor is `dashboard`: everyone signs in with the one shared admin token, so the hub cannot tell who pressed it.
 */
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { cancelRollout, continueRollout, type ActionDeps } from '../audit/audited-deployment-actions.js';
import type { DashboardSessions } from './dashboard-sessions.js';
import { requireCsrfToken, requireSameOrigin, requireSession } from './page-guards.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';

export const DASHBOARD_ACTOR = 'dashboard';

export function deploymentActionRoutes(deps: ActionDeps & { sessions: DashboardSessions }): Router {
  const router = new Router();
  const guards = [renderErrorsAsPages, requireSameOrigin(deps.sessions), requireSession(deps.sessions), requireCsrfToken];

  router.post('/deployments/:id/continue', ...guards, async (ctx) => {
    const deployment = await continueRollout(deps, ctx.params.id!, DASHBOARD_ACTOR);
    backToPage(ctx, deployment.id, 'continued');
  });

  router.post('/deployments/:id/cancel', ...guards, async (ctx) => {
    const deployment = await cancelRollout(deps, ctx.params.id!, DASHBOARD_ACTOR);
    backToPage(ctx, deployment.id, 'cancelled');
  });

  return router;
}

/** 303, so the browser follows with a GET and a reload does not post the form again. */
function backToPage(ctx: Context, id: string, done: string): void {
  ctx.redirect(`/deployments/${encodeURIComponent(id)}?done=${done}`);
  ctx.status = 303;
}
