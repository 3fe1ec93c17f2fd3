/**
 * Server-rendered status pages: `GET /deployments` (deployments newest first, 30 a page from the index with
 * `?before=`, agents, config in force; the home page `/` is the environments' page, environments-page-routes.ts), `GET /deployments/:id` (the
 * summary: counts by state, failures first with their log tails, batches, then 50 servers a page with `?after=` and
 * `?state=` links) and `GET /deployments/:id/servers/:jobId` (one server's events and log tail). GitHub Deployment
 * statuses link to the deployment page.
 */
import { Router } from '@koa/router';
import { FINAL_DEPLOYMENT_STATES, FINAL_JOB_STATES, JOB_STATES } from '../../lib/protocol.js';
import type { AuditEntry } from '../audit/audit-log.js';
import { describeLock, type EnvironmentLock } from '../rollout/environment-locks.js';
import type { ConfigStatus } from '../config/config-repo.js';
import { readLogTail } from '../jobs/job-logs.js';
import { keys, type AgentRecord, type DeploymentRecord, type JobRecord } from '../model.js';
import { readServerDetail, readServerLog, readServerPage, summarizeDeployment } from '../rollout/deployment-view.js';
import { pageOfDeployments } from '../store/deployment-queries.js';
import type { Store } from '../store/store.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';
import type { AgentFacts } from '../rollout/select-agents.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import type { DashboardSessions } from './dashboard-sessions.js';
import { actionsHtml, doneHtml, gateHtml } from './deployment-actions-html.js';
import { escapeHtml as e, page, setPrivatePageHeaders } from './html.js';
import { readSessionCookie } from './session-cookie.js';
import type { RepositoryAccess } from '../auth/repository-access.js';
import { repositoryFilter } from './page-access.js';
import { batchesHtml, countsHtml, deploymentPath, failuresHtml, INLINE_TAIL_LINES, LIVE_STATES, PAGE_SERVERS, SERVER_PAGE_LINES, serverDetailHtml, serverListHtml } from './servers-html.js';

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
    const agents = agentPage.agents;
    const cloud = (await safety.cloudFacts?.(agents)) ?? new Map<string, AgentFacts>();
    const configs = configStatus();
    const configLine = configs.length
      ? configs.map(describeConfig).join('<br>')
      : 'No config repo yet: set BITENVOY_CONFIG_REPO, or in GitHub mode install the App on an account that has a <code>.bitenvoy</code> repository.';
    ctx.type = 'html';
    ctx.body = page(
      'Deployments',
      `<h1>Deployments</h1><p>${configLine}</p>
<table><tr><th>deployment</th><th>repository</th><th>environment</th><th>commit</th><th>state</th><th>description</th><th>created</th></tr>
${deployments
  .map(
    (d) => `<tr><td><a href="/deployments/${e(d.id)}">${e(d.id)}</a></td><td>${e(d.repository)}</td><td>${e(d.environment)}</td>
<td><code>${e(d.sha.slice(0, 7))}</code> ${e(d.ref)}</td><td class="state ${e(d.state)}">${e(d.state)}</td><td>${e(d.description)}</td><td>${e(d.createdAt)}</td></tr>`,
  )
  .join('\n')}
</table>
<p>${before ? '<a href="/deployments">newest</a>' : ''}${before && deploymentPage.next ? ' · ' : ''}${deploymentPage.next ? `<a href="/deployments?before=${e(encodeURIComponent(deploymentPage.next))}">older ${DEPLOYMENTS_PER_PAGE}</a>` : ''}</p>
<h2>Agents</h2>
<p>${counts.enrolled} enrolled, ${counts.enrolled - counts.lost} online, ${counts.lost} lost${agentsAfter ? ` · <a href="/deployments">first page</a>` : ''}${agentPage.next ? ` · <a href="/deployments?agents_after=${encodeURIComponent(agentPage.next)}">next ${AGENTS_PER_PAGE}</a>` : ''}</p>
<table><tr><th>name</th><th>status</th><th>labels</th><th>last seen</th><th>version</th></tr>
${agents
  .map(
    (a) => `<tr><td>${e(a.name)}</td><td class="state ${a.online ? 'succeeded' : 'failed'}">${a.online ? 'online' : 'lost'}</td>
<td>${Object.entries({ ...a.labels, ...cloud.get(a.id)?.labels }).map(([k, v]) => `<code>${e(k)}=${e(v)}</code>`).join(' ')}${cloud.get(a.id)?.unknown ? `<br><small>cloud facts unknown: ${e(cloud.get(a.id)!.unknown!)}</small>` : ''}</td><td>${e(a.lastSeenAt)}</td><td>${e(a.version)}</td></tr>`,
  )
  .join('\n')}
</table>
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
    const state = JOB_STATES.find((s) => s === ctx.query.state);
    const after = typeof ctx.query.after === 'string' && /^\d{1,16}$/.test(ctx.query.after) ? ctx.query.after : undefined;
    const [summary, servers] = await Promise.all([
      summarizeDeployment(store, d),
      readServerPage(store, d, { limit: PAGE_SERVERS, ...(after ? { after: Number(after) } : {}), ...(state ? { state } : {}) }),
    ]);
    // Log tails inline only for the failures and the servers of this page running now; the others are a link away.
    const tails = new Map<string, string[]>();
    const withTail = [...summary.failures, ...servers.servers.filter((s) => LIVE_STATES.includes(s.state))];
    const jobs = await store.getMany<JobRecord>(withTail.map((s) => keys.job(s.jobId)));
    await Promise.all(jobs.map(async (job, i) => job && tails.set(withTail[i]!.jobId, await readLogTail(store, job, INLINE_TAIL_LINES))));
    const final = FINAL_DEPLOYMENT_STATES.includes(d.state);
    const session = sessions && (await sessions.find(readSessionCookie(ctx)));
    if (sessions) setPrivatePageHeaders(ctx);
    // Buttons only for who may press them; the posts check again (deployment-action-routes.ts).
    const refusal = session && access && !final ? await access.whyNotChange(session.who, d) : undefined;
    const sd = summary.deployment;
    const planned = sd.batches.map((b) => `batch ${b.index + 1}: ${b.size} server${b.size === 1 ? '' : 's'}`).join(' · ') + (sd.batches.length < sd.batchCount ? ` … (${sd.batchCount} batches)` : '');
    ctx.body = page(
      `${d.repository} → ${d.environment}`,
      `<h1>${e(d.repository)} → ${e(d.environment)}</h1>
${doneHtml(ctx.query.done)}${gateHtml(d)}
<table>
<tr><th>state</th><td class="state ${e(d.state)}">${e(d.state)}</td></tr>
<tr><th>description</th><td>${e(d.description)}</td></tr>
<tr><th>commit</th><td><code title="${e(d.sha)}">${e(d.sha.slice(0, 7))}</code> (${e(d.ref)})</td></tr>
<tr><th>group · strategy</th><td>${e(d.group)} · ${e(d.strategy)}${planned ? ` — ${e(planned)}` : ''}</td></tr>
<tr><th>config</th><td><code>${e(d.configSha.slice(0, 7))}</code></td></tr>
<tr><th>created</th><td>${e(d.createdAt)} by ${e(d.createdBy)}${d.finishedAt ? `; finished ${e(d.finishedAt)}` : ''}</td></tr>
${d.environmentUrl && /^https?:\/\//i.test(d.environmentUrl) ? `<tr><th>environment</th><td><a href="${e(d.environmentUrl)}">${e(d.environmentUrl)}</a></td></tr>` : ''}
${sd.skipped.length ? `<tr><th>left out</th><td>${sd.skipped.map((s) => `${e(s.name)} (${e(s.reason)})`).join('<br>')}${sd.skippedCount > sd.skipped.length ? `<br>and ${sd.skippedCount - sd.skipped.length} more` : ''}</td></tr>` : ''}
${rollbackRows(d)}
</table>
${sessions ? actionsHtml(d, session, refusal) : ''}
${countsHtml(d.id, summary, state)}
${failuresHtml(d.id, summary, tails)}
${batchesHtml(summary)}
${serverListHtml(d.id, servers, tails, { ...(after ? { after } : {}), ...(state ? { state } : {}) })}`,
      final ? undefined : REFRESH_SECONDS,
      deploymentPath(d.id, { ...(after ? { after } : {}), ...(state ? { state } : {}) }),
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
    const tail = await readServerLog(store, server, Math.max(1, asked));
    if (sessions) setPrivatePageHeaders(ctx);
    ctx.body = page(
      `${server.agentName} · ${d.repository} → ${d.environment}`,
      serverDetailHtml(d.id, server, tail),
      FINAL_JOB_STATES.includes(server.state) ? undefined : REFRESH_SECONDS,
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

/** How a deployment and its rollback link to each other: "rolls back dep_…", or "rolled back by dep_…" / why not. */
function rollbackRows(d: DeploymentRecord): string {
  const link = (id: string) => `<a href="/deployments/${e(id)}">${e(id)}</a>`;
  const rows: string[] = [];
  if (d.rollbackOf) rows.push(`<tr><th>rollback</th><td>brings back <code>${e(d.sha.slice(0, 7))}</code> after ${link(d.rollbackOf)}</td></tr>`);
  const plan = d.autoRollback;
  if (plan && 'skipped' in plan) rows.push(`<tr><th>on failure</th><td>not rolled back: ${e(plan.skipped)}</td></tr>`);
  else if (plan?.error) rows.push(`<tr><th>on failure</th><td>the rollback to <code>${e(plan.sha.slice(0, 7))}</code> could not start: ${e(plan.error)}</td></tr>`);
  else if (plan) rows.push(`<tr><th>on failure</th><td>rolled back by ${link(plan.deploymentId)}: <code>${e(plan.sha.slice(0, 7))}</code> (from ${link(plan.lastGood)}) to ${plan.agentIds.length} server${plan.agentIds.length === 1 ? '' : 's'}</td></tr>`);
  return rows.join('\n');
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
