/**
 * Who may read the status pages. With BITENVOY_DASHBOARD_PUBLIC=true anyone who reaches the hub may (local mode's
 * default). With false (GitHub mode's default) every page — the overview, a deployment, a server's log — needs a
 * session, an unauthenticated request is sent to the sign-in page, and a person signed in with GitHub sees only
 * deployments of repositories they can read: another repository's deployment is "not found", so its name, commits and
 * logs are not shown and its existence is not confirmed.
 *
 * @example
 * koa.use(pageAccess({ store, sessions, access, isPublic: settings.dashboardPublic }));
 */
import type { Context, Middleware } from 'koa';
import type { RepositoryAccess } from '../auth/repository-access.js';
import { keys, type DeploymentRecord } from '../model.js';
import type { Store } from '../store/store.js';
import type { DashboardSession, DashboardSessions } from './dashboard-sessions.js';
import { escapeHtml as e, page, setPrivatePageHeaders } from './html.js';
import { readSessionCookie } from './session-cookie.js';

/** The pages: `/`, `/deployments` and everything under it (a deployment, its servers, their logs), `/environments/…`, `/agents…`, `/config`. */
export function isPage(path: string): boolean {
  return path === '/' || path === '/deployments' || path.startsWith('/deployments/') || path.startsWith('/environments/') ||
    path === '/agents' || path.startsWith('/agents/') || path === '/config';
}

export interface PageAccessDeps {
  store: Store;
  sessions: DashboardSessions;
  access: RepositoryAccess;
  isPublic: boolean;
}

export function pageAccess(deps: PageAccessDeps): Middleware {
  return async (ctx, next) => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !isPage(ctx.path) || deps.isPublic) return next();
    const session = await deps.sessions.find(readSessionCookie(ctx));
    if (!session) {
      setPrivatePageHeaders(ctx);
      ctx.redirect(`/login?next=${encodeURIComponent(ctx.originalUrl.slice(0, 300))}`);
      ctx.status = 303;
      return;
    }
    ctx.state.session = session;
    const id = /^\/deployments\/([^/]+)/.exec(ctx.path)?.[1];
    if (id) {
      const d = await deps.store.get<DeploymentRecord>(keys.deployment(decodeURIComponent(id)));
      if (d && !(await deps.access.canView(session.who, d.repository))) return notVisible(ctx, decodeURIComponent(id));
    }
    // The pages carry what the person may read: never cached by a proxy for another person.
    setPrivatePageHeaders(ctx);
    await next();
  };
}

/**
 * For the overview: whether the signed-in person (put on `ctx.state.session` by {@link pageAccess}) may see a
 * repository. Public pages, or no access check: everything.
 */
export function repositoryFilter(ctx: Context, access: RepositoryAccess | undefined): (repository: string) => Promise<boolean> {
  const session = ctx.state.session as DashboardSession | undefined;
  if (!session || !access) return async () => true;
  return (repository) => access.canView(session.who, repository);
}

function notVisible(ctx: Context, id: string): void {
  ctx.status = 404;
  ctx.type = 'html';
  ctx.body = page('Not found', `<h1>No deployment ${e(id)}</h1><p>Either there is none, or it belongs to a repository your GitHub account cannot read. <a href="/deployments">All deployments</a></p>`);
}
