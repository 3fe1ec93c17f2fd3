/**
 * Server-rendered status pages: `GET /deployments` (deployments newest first, 30 a page from the index with
 * `?before=`, agents, config in force; the home page `/` is the environments' page, environments-page-routes.ts),
 * `GET /deployments/:id` (the facts with links to the commit and the GitHub deployment, the instruction file and
 * config commit, counts by state, a timeline of batches and gates, failures first with their log tails, then 50
 * servers a page with `?after=` and `?state=` links) and `GET /deployments/:id/servers/:jobId` (one server's steps
 * with start times and durations, its log with `?q=` search and a download link). Both update live through their
 * `…/live` streams when JavaScript runs (deployment-live-routes.ts) and reload themselves every 2 s when it does not.
 * GitHub Deployment statuses link to the deployment page.
 */
import { Router } from '@koa/router';
import { FINAL_JOB_STATES } from '../../lib/protocol.js';
import type { AuditEntry } from '../audit/audit-log.js';
import { describeLock, type EnvironmentLock } from '../rollout/environment-locks.js';
import type { ConfigStatus } from '../config/config-repo.js';
import { keys, type AgentRecord, type DeploymentRecord } from '../model.js';
import { readServerDetail, readServerLog } from '../rollout/deployment-view.js';
import { pageOfDeployments } from '../store/deployment-queries.js';
import type { Store } from '../store/store.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';
import type { AgentFacts } from '../rollout/select-agents.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import type { DashboardSessions } from './dashboard-sessions.js';
import { actionsHtml, doneHtml } from './deployment-actions-html.js';
import { readLiveView, viewId, type LiveClock } from './deployment-live-html.js';
import { deploymentLiveRoutes, liveQuery, type LiveRouteDeps } from './deployment-live-routes.js';
import { commitTextHtml } from './environments-html.js';
import { escapeHtml as e, page, setPrivatePageHeaders } from './html.js';
import { LOG_SEARCH_MAX_QUERY, logEndCursor, searchLog, type LogSearch } from './job-log-text.js';
import { DEPLOYMENT_LIVE_SCRIPT, SERVER_LIVE_SCRIPT } from './live-scripts.js';
import { html, safeHref, type SafeHtml } from './safe-html.js';
import { readSessionCookie } from './session-cookie.js';
import type { RepositoryAccess } from '../auth/repository-access.js';
import { fleetScope, type FleetConfigs } from './fleet-scope.js';
import { repositoryFilter } from './page-access.js';
import { deploymentPath, SERVER_PAGE_LINES, serverFactsHtml, serverPath } from './servers-html.js';

const REFRESH_SECONDS = 2;

/** What the overview shows besides deployments and agents: locks in force and the newest audit entries. */
export interface SafetyView {
  locks(): Promise<EnvironmentLock[]>;
  recentActions(): Promise<AuditEntry[]>;
  /** Agents' verified cloud facts (cloud discovery), shown next to their own labels. */
  cloudFacts?(agents: AgentRecord[]): Promise<ReadonlyMap<string, AgentFacts>>;
}

const NO_SAFETY: SafetyView = { locks: async () => [], recentActions: async () => [] };

/** What the status pages read. */
export interface PageDeps {
  /** Deployments, their jobs, agents and logs: read a page at a time, never every job or agent. */
  store: Store;
  engine: RolloutEngine;
  configStatus: () => ConfigStatus[];
  /** The configs in force, for what of the fleet a person signed in with GitHub may see (fleet-scope.ts). */
  configs?: FleetConfigs;
  safety?: SafetyView;
  /**
   * Sign-in sessions: with them, the deployment page offers its buttons to a signed-in person and a sign-in link to
   * others; without them, the pages are read-only.
   */
  sessions?: DashboardSessions;
  /**
   * What signed-in people may see and do (GitHub mode): the overview shows only repositories they can read, and the
   * deployment page offers its buttons only to those who may press them.
   */
  access?: RepositoryAccess;
  /** Ends the pages' live streams when the hub stops (so the browsers reconnect elsewhere). */
  shutdown?: AbortSignal;
  /** Caps and timings of the live streams (tests make them short). */
  live?: Pick<LiveRouteDeps, 'limits' | 'timings'>;
  /** The clock and the job lease: a running server whose agent missed a lease renewal says so. */
  clock?: LiveClock;
}

/**
 * @example
 * const router = deploymentPageRoutes({ store, engine, configStatus: () => configs.statuses(), sessions });
 */
/** Agents shown per page on `/` (the rest a link away). */
const AGENTS_PER_PAGE = 50;
/** Deployments per page on `/deployments`, newest first (older ones by `?before=`). */
const DEPLOYMENTS_PER_PAGE = 30;

export function deploymentPageRoutes(deps: PageDeps): Router {
  const { store, engine, configStatus, safety = NO_SAFETY, sessions, access } = deps;
  const router = new Router();
  router.use(deploymentLiveRoutes({ store, changes: engine.changes, ...(deps.shutdown ? { shutdown: deps.shutdown } : {}), ...(deps.clock ? { clock: deps.clock } : {}), ...deps.live }).routes());

  router.get('/deployments', renderErrorsAsPages, async (ctx) => {
    // Bounded reads whatever the history and the fleet: 30 deployments, 50 agents a page, counts from running totals.
    const agentsAfter = typeof ctx.query.agents_after === 'string' ? ctx.query.agents_after : undefined;
    const before = typeof ctx.query.before === 'string' ? ctx.query.before : undefined;
    const [deploymentPage, agentPage, counts, allLocks, allActions] = await Promise.all([
      pageOfDeployments(store, { limit: DEPLOYMENTS_PER_PAGE, ...(before ? { before } : {}) }),
      engine.listAgents({ limit: AGENTS_PER_PAGE, ...(agentsAfter ? { after: agentsAfter } : {}) }),
      engine.agentCounts(),
      safety.locks(),
      safety.recentActions(),
    ]);
    // Only what the signed-in person may read (BITENVOY_DASHBOARD_PUBLIC=false); one cached answer per repository.
    const visible = repositoryFilter(ctx, access);
    const keep = async <T extends { repository: string }>(rows: T[]) => (await Promise.all(rows.map(async (r) => ((await visible(r.repository)) ? r : undefined)))).filter((r): r is Awaited<T> => r !== undefined);
    const [deployments, locks, actions] = await Promise.all([keep(deploymentPage.deployments), keep(allLocks), keep(allActions)]);
    // Servers and config repos: only for people who can read a repository the config governs.
    const scope = await fleetScope(ctx, access, deps.configs);
    const agents = scope.any ? agentPage.agents : [];
    const cloud = (await safety.cloudFacts?.(agents)) ?? new Map<string, AgentFacts>();
    const allConfigs = configStatus();
    const configs = allConfigs.filter(scope.showsStatus);
    const configLine = configs.length
      ? configs.map(describeConfig).join('<br>')
      : allConfigs.length
        ? 'Config repos are shown to people who can read a repository they govern.'
        : 'No config repo yet: set BITENVOY_CONFIG_REPO, or in GitHub mode install the App on an account that has a <code>.bitenvoy</code> repository.';
    ctx.type = 'html';
    ctx.body = page(
      'Deployments',
      `<h1>Deployments</h1><p>${configLine}</p>
<table><tr><th>deployment</th><th>repository</th><th>environment</th><th>commit</th><th>state</th><th>description</th><th>created</th></tr>
${deployments
  .map(
    (d) => `<tr><td><a href="/deployments/${e(d.id)}">${e(d.id)}</a></td><td>${e(d.repository)}</td><td>${e(d.environment)}</td>
<td><code>${e(d.sha.slice(0, 7))}</code> ${e(d.ref)}${d.commit ? html`<br>${commitTextHtml(d)}` : ''}</td><td class="state ${e(d.state)}">${e(d.state)}</td><td>${e(d.description)}</td><td>${e(d.createdAt)}</td></tr>`,
  )
  .join('\n')}
</table>
<p>${before ? '<a href="/deployments">newest</a>' : ''}${before && deploymentPage.next ? ' · ' : ''}${deploymentPage.next ? `<a href="/deployments?before=${e(encodeURIComponent(deploymentPage.next))}">older ${DEPLOYMENTS_PER_PAGE}</a>` : ''}</p>
<h2>Agents</h2>
${
  scope.any
    ? `<p>${counts.enrolled} enrolled, ${counts.enrolled - counts.lost} online, ${counts.lost} lost${agentsAfter ? ` · <a href="/deployments">first page</a>` : ''}${agentPage.next ? ` · <a href="/deployments?agents_after=${encodeURIComponent(agentPage.next)}">next ${AGENTS_PER_PAGE}</a>` : ''}</p>
<table><tr><th>name</th><th>status</th><th>labels</th><th>last seen</th><th>version</th></tr>
${agents
  .map(
    (a) => `<tr><td>${e(a.name)}</td><td class="state ${a.online ? 'succeeded' : 'failed'}">${a.online ? 'online' : 'lost'}</td>
<td>${Object.entries({ ...a.labels, ...cloud.get(a.id)?.labels }).map(([k, v]) => `<code>${e(k)}=${e(v)}</code>`).join(' ')}${cloud.get(a.id)?.unknown ? `<br><small>cloud facts unknown: ${e(cloud.get(a.id)!.unknown!)}</small>` : ''}</td><td>${e(a.lastSeenAt)}</td><td>${e(a.version)}</td></tr>`,
  )
  .join('\n')}
</table>`
    : '<p>Your GitHub account cannot read any repository this hub deploys, so its servers are not shown.</p>'
}
<h2>Locks</h2>
${locks.length ? `<ul>${locks.map((l) => `<li>${e(l.repository)}: ${e(describeLock(l))}</li>`).join('')}</ul>` : '<p>No environment is locked.</p>'}
<h2>Recent actions</h2>
<table><tr><th>when</th><th>who</th><th>action</th><th>repository</th><th>environment</th><th>commit</th><th>outcome</th><th>detail</th></tr>
${actions
  .slice()
  .reverse()
  .map(
    (a) => `<tr><td>${e(a.at)}</td><td>${e(a.actor)}</td><td>${e(a.action)}</td><td>${e(a.repository)}</td><td>${e(a.environment ?? '')}</td><td><code>${e(a.sha?.slice(0, 7) ?? '')}</code></td>
<td>${e(a.outcome)}${a.forced ? ' (forced)' : ''}</td><td>${e(a.detail ?? '')}</td></tr>`,
  )
  .join('\n')}
</table>`,
      10,
      undefined,
      { section: 'deployments' },
    );
  });

  router.get('/deployments/:id', async (ctx) => {
    const d = await store.get<DeploymentRecord>(keys.deployment(ctx.params.id!));
    ctx.type = 'html';
    if (!d) {
      notFoundPage(ctx, ctx.params.id!);
      return;
    }
    const query = liveQuery(ctx);
    const view = await readLiveView(store, d, query, deps.clock);
    const session = sessions && (await sessions.find(readSessionCookie(ctx)));
    if (sessions) setPrivatePageHeaders(ctx);
    // Buttons only for who may press them; the posts check again (deployment-action-routes.ts).
    const refusal = session && access && (!view.final || view.failed) ? await access.whyNotChange(session.who, d) : undefined;
    const here = deploymentPath(d.id, query);
    // The stream starts from what this page shows: it sends nothing until that changes.
    const params = new URLSearchParams({ ...query, since: viewId(view) });
    const stream = `/deployments/${encodeURIComponent(d.id)}/live?${params.toString()}`;
    ctx.body = page(
      `${d.repository} → ${d.environment}`,
      html`<h1>${d.repository} → ${d.environment}</h1>
${doneHtml(ctx.query.done)}${sessions ? actionsHtml(d, session, refusal, view.failed) : ''}
${view.final ? '' : html`<p class="live-status" id="live-status" role="status" aria-live="polite"></p>`}
<div id="live"${view.final ? '' : html` data-stream="${safeHref(stream)}" data-page="${safeHref(here)}" data-actions="${view.actions}"`}>
${view.html}
</div>
${view.final ? '' : html`${noscriptRefresh(here)}${DEPLOYMENT_LIVE_SCRIPT}`}`.toString(),
    );
  });

  router.get('/deployments/:id/servers/:jobId', async (ctx) => {
    const d = await store.get<DeploymentRecord>(keys.deployment(ctx.params.id!));
    ctx.type = 'html';
    const server = d && (await readServerDetail(store, d, ctx.params.jobId!));
    if (!d || !server) {
      notFoundPage(ctx, ctx.params.id!, d ? ctx.params.jobId : undefined);
      return;
    }
    const asked = typeof ctx.query.lines === 'string' && /^\d{1,4}$/.test(ctx.query.lines) ? Number(ctx.query.lines) : SERVER_PAGE_LINES;
    const q = typeof ctx.query.q === 'string' ? ctx.query.q.slice(0, LOG_SEARCH_MAX_QUERY) : '';
    const final = FINAL_JOB_STATES.includes(server.state);
    // The cursor first, then the tail: a line written in between shows twice rather than never.
    const end = final ? undefined : await logEndCursor(store, server);
    const [tail, found] = await Promise.all([readServerLog(store, server, Math.max(1, asked)), q ? searchLog(store, server, q) : undefined]);
    if (sessions) setPrivatePageHeaders(ctx);
    const path = serverPath(d.id, server.id);
    ctx.body = page(
      `${server.agentName} · ${d.repository} → ${d.environment}`,
      html`<p><a href="${safeHref(deploymentPath(d.id))}">← deployment ${d.id}</a> (${d.repository} → ${d.environment})</p>
<div id="server-facts">${serverFactsHtml(server)}</div>
<h2>Log</h2>
${server.logsDropped ? html`<p><small>${server.logsDropped} older log chunks were dropped (the hub keeps the newest 2 MiB per job).</small></p>` : ''}
<form method="get" action="${safeHref(path)}" class="log-search" role="search"><label for="log-q">Search the log</label> <input id="log-q" name="q" type="search" maxlength="${LOG_SEARCH_MAX_QUERY}" value="${q}"> <button type="submit">Search</button>
 · <a href="${safeHref(`${path}/log`)}" download>Download the whole log</a></form>
${found ? searchResultsHtml(q, found) : ''}
${final ? '' : html`<p id="follow-control" hidden><label><input type="checkbox" id="follow" checked> Follow the log</label> <span id="live-status" role="status" aria-live="polite"></span></p>`}
<pre id="log" tabindex="0"${end ? html` data-stream="${safeHref(`${path}/live?after=${encodeURIComponent(end.cursor)}`)}" data-empty="${tail.length ? 'false' : 'true'}"` : ''}>${tail.join('\n') || '(no output yet)'}${tail.length && end?.endsLine ? '\n' : ''}</pre>
<p><small>The last ${tail.length} lines; <code>?lines=</code> shows up to 500, and the download has all the hub keeps.</small></p>
${final ? '' : html`${noscriptRefresh(ctx.originalUrl.startsWith('/') ? ctx.originalUrl : path)}${SERVER_LIVE_SCRIPT}`}`.toString(),
    );
  });

  return router;
}

function notFoundPage(ctx: { status: number; body: unknown }, id: string, jobId?: string): void {
  ctx.status = 404;
  ctx.body = jobId
    ? page('Not found', `<h1>Deployment ${e(id)} has no server job ${e(jobId)}</h1><p><a href="${e(deploymentPath(id))}">Its servers</a></p>`)
    : page('Not found', `<h1>No deployment ${e(id)}</h1><p>It may have been made on another hub. <a href="/deployments">All deployments</a></p>`);
}

/** Without JavaScript the page reloads itself while something runs; with it, the live stream replaces the reloads. */
function noscriptRefresh(to: string): SafeHtml {
  return html`<noscript><meta http-equiv="refresh" content="${REFRESH_SECONDS}; url=${safeHref(to)}"></noscript>`;
}

/** The lines that matched a log search, with their line numbers in the kept log. */
function searchResultsHtml(q: string, found: LogSearch): SafeHtml {
  if (!found.total) return html`<p role="status">No line of the kept log contains “${q}”.</p>`;
  const shown = found.matches.length < found.total ? ` (the first ${found.matches.length} shown)` : '';
  return html`<h3>${found.total} line${found.total === 1 ? '' : 's'} contain “${q}”${shown}</h3>
<table class="log-matches"><tr><th scope="col">line</th><th scope="col">text</th></tr>${found.matches.map((m) => html`<tr><td>${m.line}</td><td><code>${m.text}</code></td></tr>`)}</table>`;
}

/** Which commit of a config repo is in force, and why a newer one is not. */
function describeConfig(config: ConfigStatus): string {
  return (
    `Config repo <code>${e(config.source)}</code>${config.branch ? ` (${e(config.branch)})` : ''}: ${config.sha ? `<code>${e(config.sha.slice(0, 7))}</code> in force since ${e(config.loadedAt)}` : 'no valid commit loaded yet'}` +
    (config.rejected
      ? `; newer commit <code>${e(config.rejected.sha.slice(0, 7))}</code> rejected: ${e(config.rejected.errors.map((i) => `${i.file}${i.line ? `:${i.line}` : ''} ${i.message}`).join('; '))}`
      : '') +
    (config.lastError ? `; last fetch failed: ${e(config.lastError)}` : '')
  );
}
