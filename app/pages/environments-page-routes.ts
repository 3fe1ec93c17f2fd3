/**
 * The home page and an environment's page. `GET /` lists every repository × environment of the config in force that
 * the person may view — live commit, when and by whom it went live, state, lock, rollout, servers not on the live
 * commit — filtered by `?repository=` and `?q=`, 50 a page (`?after=`). `GET /environments/:owner/:repo/:environment`
 * shows the same facts, the environment's deployments newest first (20 a page, `?before=` from the index) and what
 * each server runs now — its release in this environment, from `releases` (50 a page by agent id, `?servers_after=`)
 * — with a link to deploy.
 *
 * @example
 * const router = environmentsPageRoutes({ store, configs, sessions, access });
 */
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import type { RepositoryAccess } from '../auth/repository-access.js';
import { readEnvironmentStatus } from '../rollout/environment-status.js';
import { pageOfDeployments } from '../store/deployment-queries.js';
import { pageOfReleases } from '../store/release-queries.js';
import type { Store } from '../store/store.js';
import { actorOf, type DashboardSession, type DashboardSessions } from './dashboard-sessions.js';
import { readEnvironmentFacts } from './environments-facts.js';
import { environmentPath, environmentRow, environmentsHeader, factsTable, historyTable, serversTable } from './environments-html.js';
import { listEnvironmentPairs, pageOfPairs, type EnvironmentConfigs } from './environments-list.js';
import { page, setPrivatePageHeaders, type Frame } from './html.js';
import { repositoryFilter } from './page-access.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';
import { html, safeHref, trustedHtml } from './safe-html.js';
import { readSessionCookie } from './session-cookie.js';

/** Environments per page of `/`, deployments per page of history, servers per page. */
export const ENVIRONMENTS_PER_PAGE = 50;
export const HISTORY_PER_PAGE = 20;
export const SERVERS_PER_PAGE = 50;

export interface EnvironmentsPageDeps {
  store: Store;
  configs?: EnvironmentConfigs;
  sessions?: DashboardSessions;
  /** GitHub mode: people see only the repositories they can read. */
  access?: RepositoryAccess;
}

const STYLE = trustedHtml(
  '<style>.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin:1rem 0}.filters label{display:flex;flex-direction:column;font-size:.9rem}' +
    'table.facts{width:auto}table.facts th{padding-right:1.5rem}.paused-state{color:var(--warn)}th[scope=row]{font-weight:600}</style>',
);

export function environmentsPageRoutes(deps: EnvironmentsPageDeps): Router {
  const { store, configs, sessions, access } = deps;
  const router = new Router();

  router.get('/', renderErrorsAsPages, async (ctx) => {
    const repository = query(ctx, 'repository');
    const q = query(ctx, 'q');
    const after = query(ctx, 'after');
    const { pairs, repositories } = await listEnvironmentPairs(configs, { ...(repository ? { repository } : {}), ...(q ? { q } : {}) }, repositoryFilter(ctx, access));
    const { rows, next } = pageOfPairs(pairs, after, ENVIRONMENTS_PER_PAGE);
    // Each pair: its status (four indexed reads), its live deployment and its servers' releases counted (one index range).
    const now = Date.now();
    const facts = await Promise.all(rows.map(async (p) => readEnvironmentFacts(store, await readEnvironmentStatus(store, p.repository, p.environment, now))));
    const filters = (more: Record<string, string>) => `/?${new URLSearchParams({ ...(repository ? { repository } : {}), ...(q ? { q } : {}), ...more })}`;
    const noConfig = !configs?.inForce().length;
    ctx.type = 'html';
    ctx.body = page(
      'Environments',
      html`${STYLE}<h1>Environments</h1>
<form class="filters" method="get" action="/" role="search">
<label>Repository <select name="repository"><option value="">all</option>${repositories.map((r) => html`<option${r === repository ? trustedHtml(' selected') : ''}>${r}</option>`)}</select></label>
<label>Search <input type="search" name="q" value="${q ?? ''}" placeholder="repository or environment"></label>
<button type="submit">Filter</button>${repository || q ? html` <a href="/">clear</a>` : ''}
</form>
${
  noConfig
    ? html`<p>No config is in force: set BITENVOY_CONFIG_REPO, or in GitHub mode install the App on an account that has a <code>.bitenvoy</code> repository. <a href="/deployments">Deployments</a></p>`
    : rows.length
      ? html`<table>${environmentsHeader}${facts.map(environmentRow)}</table>`
      : html`<p>No environment matches${q ? html` “${q}”` : ''}${repository ? html` in ${repository}` : ''}.</p>`
}
<p>${pairs.length} environment${pairs.length === 1 ? '' : 's'}${after ? html` · <a href="${safeHref(filters({}))}">first page</a>` : ''}${next ? html` · <a href="${safeHref(filters({ after: next }))}">next ${ENVIRONMENTS_PER_PAGE}</a>` : ''}</p>`.toString(),
      facts.some((f) => f.status.rollout) ? 10 : undefined,
      undefined,
      await frameOf(ctx, 'environments'),
    );
  });

  router.get('/environments/:owner/:repo/:environment', renderErrorsAsPages, async (ctx) => {
    const repository = `${ctx.params.owner}/${ctx.params.repo}`;
    const environment = ctx.params.environment!;
    const configured = configs?.current(repository)?.repositories[repository]?.environments?.[environment] !== undefined;
    // Another repository's environment is "not found", as its deployments are: its existence is not confirmed.
    if (!configured || !(await repositoryFilter(ctx, access)(repository))) {
      throw new BitEnvoyError('BE_NOT_FOUND', `${repository} has no environment ${environment} in the config in force, or your GitHub account cannot read ${repository}`);
    }
    const before = query(ctx, 'before');
    const serversAfter = query(ctx, 'servers_after');
    if (serversAfter !== undefined && !/^[\w-]{1,100}$/.test(serversAfter)) throw new BitEnvoyError('BE_BAD_REQUEST', `servers_after: "${serversAfter.slice(0, 40)}" is not a page of servers: follow the page's own "next" link`);
    const [facts, history, servers] = await Promise.all([
      readEnvironmentStatus(store, repository, environment).then((status) => readEnvironmentFacts(store, status)),
      pageOfDeployments(store, { repository, environment, limit: HISTORY_PER_PAGE, ...(before ? { before } : {}) }),
      pageOfReleases(store, repository, environment, { limit: SERVERS_PER_PAGE, ...(serversAfter ? { after: serversAfter } : {}) }),
    ]);
    const path = environmentPath(repository, environment);
    const link = (more: Record<string, string>, label: string) => html`<a href="${safeHref(`${path}?${new URLSearchParams(more)}`)}">${label}</a>`;
    ctx.type = 'html';
    ctx.body = page(
      `${repository} → ${environment}`,
      html`${STYLE}<h1>${repository} <span aria-hidden="true">→</span> ${environment}</h1>
${factsTable(facts)}
<p class="actions"><a class="button" href="${safeHref(`${path}/deploy`)}">Deploy…</a></p>
<h2 id="history">Deployments</h2>
${historyTable(history.deployments)}
<p>${before ? html`<a href="${safeHref(`${path}#history`)}">newest</a>` : ''}${before && history.next ? ' · ' : ''}${history.next ? link({ before: history.next }, `older ${HISTORY_PER_PAGE}`) : ''}</p>
<h2 id="servers">Servers</h2>
${
  servers.releases.length || serversAfter
    ? html`<p>What each server runs now: its newest job in this environment that succeeded${facts.drift ? ` (${facts.drift.servers} server${facts.drift.servers === 1 ? '' : 's'})` : ''}. A server no deployment here has succeeded on is not listed.</p>
${serversTable(facts.live?.sha, servers.releases)}
<p>${serversAfter ? html`<a href="${safeHref(`${path}#servers`)}">first servers</a>` : ''}${serversAfter && servers.next ? ' · ' : ''}${servers.next ? link({ servers_after: servers.next }, `next ${SERVERS_PER_PAGE} servers`) : ''}</p>`
    : html`<p>No server runs a release of this environment yet: no job of a deployment here has succeeded.</p>`
}`.toString(),
      facts.status.rollout ? 10 : undefined,
      undefined,
      await frameOf(ctx, 'environments'),
    );
  });

  /** The nav bar's sign-in state: the session pageAccess found, else the cookie's (public pages). */
  async function frameOf(ctx: Context, section: Frame['section']): Promise<Frame> {
    const session = (ctx.state.session as DashboardSession | undefined) ?? (sessions ? await sessions.find(readSessionCookie(ctx)) : undefined);
    if (sessions) setPrivatePageHeaders(ctx);
    return { ...(section ? { section } : {}), ...(sessions ? { signedIn: session ? { who: actorOf(session.who), csrfToken: session.csrfToken } : null } : {}) };
  }

  return router;
}

function query(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  return typeof value === 'string' && value !== '' ? value.slice(0, 300) : undefined;
}
