/**
 * Server-rendered status pages: `GET /` (recent deployments, agents, config in force) and `GET /deployments/:id`
 * (per-server state, current step, log tail). GitHub Deployment statuses link to the latter.
 */
import { Router } from '@koa/router';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import type { AuditEntry } from '../audit/audit-log.js';
import { describeLock, type EnvironmentLock } from '../rollout/environment-locks.js';
import type { ConfigStatus } from '../config/config-repo.js';
import type { AgentRecord, DeploymentRecord } from '../model.js';
import type { AgentFacts } from '../rollout/select-agents.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import type { DashboardSessions } from './dashboard-sessions.js';
import { actionsHtml, doneHtml, gateHtml } from './deployment-actions-html.js';
import { escapeHtml as e, page, setPrivatePageHeaders } from './html.js';
import { readSessionCookie } from './session-cookie.js';

const REFRESH_SECONDS = 2;

/** What the overview shows besides deployments and agents: locks in force and the newest audit entries. */
export interface SafetyView {
  locks(): Promise<EnvironmentLock[]>;
  recentActions(): Promise<AuditEntry[]>;
  /** Agents' verified cloud facts (cloud discovery), shown next to their own labels. */
  cloudFacts?(agents: AgentRecord[]): Promise<ReadonlyMap<string, AgentFacts>>;
}

const NO_SAFETY: SafetyView = { locks: async () => [], recentActions: async () => [] };

/**
 * @param sessions sign-in sessions: with them, the deployment page offers its buttons to a signed-in person and a
 * sign-in link to others; without them, the pages are read-only.
 */
export function deploymentPageRoutes(engine: RolloutEngine, configStatus: () => ConfigStatus[], safety: SafetyView = NO_SAFETY, sessions?: DashboardSessions): Router {
  const router = new Router();

  router.get('/', async (ctx) => {
    const [deployments, agents, locks, actions] = await Promise.all([engine.listDeployments(30), engine.listAgents(), safety.locks(), safety.recentActions()]);
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
<h2>Agents</h2>
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
    );
  });

  router.get('/deployments/:id', async (ctx) => {
    const view = await engine.getDeploymentView(ctx.params.id!);
    ctx.type = 'html';
    if (!view) {
      ctx.status = 404;
      ctx.body = page('Not found', `<h1>No deployment ${e(ctx.params.id)}</h1><p>It may have been made on another hub. <a href="/">All deployments</a></p>`);
      return;
    }
    const d = view.deployment;
    const final = FINAL_DEPLOYMENT_STATES.includes(d.state);
    const session = sessions && (await sessions.find(readSessionCookie(ctx)));
    if (sessions) setPrivatePageHeaders(ctx);
    const planned = d.batches.map((b, i) => `batch ${i + 1}: ${b.agentIds.length} server${b.agentIds.length === 1 ? '' : 's'}`).join(' · ');
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
${d.skipped.length ? `<tr><th>left out</th><td>${d.skipped.map((s) => `${e(s.name)} (${e(s.reason)})`).join('<br>')}</td></tr>` : ''}
${rollbackRows(d)}
</table>
${sessions ? actionsHtml(d, session) : ''}
<h2>Servers</h2>
${view.jobs
  .map(
    (j) => `<section><h3>${e(j.agentName)} <span class="state ${e(j.state)}">${e(j.state)}</span> <small>batch ${j.batch + 1}</small></h3>
${j.step ? `<p>step ${j.step.index + 1} <code>${e(j.step.name)}</code>: ${e(j.step.status)}</p>` : ''}
${j.message ? `<p>${e(j.message)}</p>` : ''}
${j.logsDropped ? `<p><small>${e(j.logsDropped)} older log chunks were dropped (the hub keeps the newest 2 MiB per job).</small></p>` : ''}
<pre>${e(j.logTail.join('\n')) || '(no output yet)'}</pre></section>`,
  )
  .join('\n')}`,
      final ? undefined : REFRESH_SECONDS,
      `/deployments/${encodeURIComponent(d.id)}`,
    );
  });

  return router;
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
