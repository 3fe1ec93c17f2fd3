/**
 * The status page's buttons: `POST /deployments/:id/continue` releases a rollout held at a gate between batches,
 * `POST /deployments/:id/cancel` stops it, `POST /deployments/:id/retry` deploys its commit again to only its failed
 * servers (audit/retry-failed-servers.ts) and goes to the new deployment's page. Both need a signed-in session, a post from the hub's own origin and the
 * session's CSRF token (page-guards.ts); a confirm() in the page is a courtesy the server does not count on.
 *
 * Who pressed it is the session's person: their GitHub login, a named operator, or `admin` for the shared admin
 * token — never a shared `dashboard`. A person signed in with GitHub must have write, maintain or admin on the
 * repository and be among the environment's `deployers` when it has them, asked of GitHub afresh (auth/repository-access.ts);
 * otherwise the post is refused (403) with the reason, whatever the page showed.
 */
import { Router } from '@koa/router';
import type { Context, Middleware } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import { cancelRollout, continueRollout, type ActionDeps } from '../audit/audited-deployment-actions.js';
import { retryFailedServers, type RetryDeps } from '../audit/retry-failed-servers.js';
import type { RepositoryAccess } from '../auth/repository-access.js';
import { keys, type DeploymentRecord } from '../model.js';
import { actorOf, type DashboardSessions } from './dashboard-sessions.js';
import { requireCsrfToken, requireSameOrigin, requireSession, sessionOf } from './page-guards.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';

export function deploymentActionRoutes(deps: RetryDeps & { sessions: DashboardSessions; access?: RepositoryAccess }): Router {
  const router = new Router();
  const guards = [renderErrorsAsPages, requireSameOrigin(deps.sessions), requireSession(deps.sessions), requireCsrfToken, mayChange(deps)];

  router.post('/deployments/:id/continue', ...guards, async (ctx) => {
    const deployment = await continueRollout(deps, ctx.params.id!, actorOf(sessionOf(ctx).who));
    backToPage(ctx, deployment.id, 'continued');
  });

  router.post('/deployments/:id/cancel', ...guards, async (ctx) => {
    const deployment = await cancelRollout(deps, ctx.params.id!, actorOf(sessionOf(ctx).who));
    backToPage(ctx, deployment.id, 'cancelled');
  });

  router.post('/deployments/:id/retry', ...guards, async (ctx) => {
    const who = sessionOf(ctx).who;
    const retry = await retryFailedServers(deps, ctx.params.id!, actorOf(who), who.kind === 'github' ? who.login : undefined);
    backToPage(ctx, retry.id, 'retried');
  });

  return router;
}

/** The signed-in person may act on this deployment's repository and environment: 403 saying why not. */
function mayChange(deps: ActionDeps & { access?: RepositoryAccess }): Middleware {
  return async (ctx, next) => {
    const { who } = sessionOf(ctx);
    if (who.kind === 'github') {
      const d = await deps.store.get<DeploymentRecord>(keys.deployment(ctx.params.id!));
      if (!d) throw new BitEnvoyError('BE_NOT_FOUND', `no deployment ${ctx.params.id}`);
      const why = deps.access ? await deps.access.whyNotChange(who, d, { fresh: true }) : 'this hub cannot ask GitHub what you may do';
      if (why) throw new BitEnvoyError('BE_FORBIDDEN', `refused: ${why}`);
    }
    await next();
  };
}

/** 303, so the browser follows with a GET and a reload does not post the form again. */
function backToPage(ctx: Context, id: string, done: string): void {
  ctx.redirect(`/deployments/${encodeURIComponent(id)}?done=${done}`);
  ctx.status = 303;
}
