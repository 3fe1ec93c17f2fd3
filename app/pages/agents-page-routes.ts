/**
 * The agents pages. `GET /agents` lists enrolled agents by name, 50 a page (`?after=`), each online, lost or
 * quarantined with its version, labels, verified `cloud.*` facts and last heartbeat; `?state=online|lost` narrows it
 * (each an indexed read), `?group=` shows one group's agents under the config in force. `GET /agents/:name` shows one
 * agent: its facts, what it runs now per application (its releases, from `releases`), its latest jobs (newest first,
 * from index jobs_by_agent) and which groups it falls in now. A person signed in with GitHub sees releases and jobs
 * of the repositories they can read only.
 *
 * @example
 * const router = agentsPageRoutes({ store, configs, sessions, heartbeatSeconds: 60 });
 */
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import type { RepositoryAccess } from '../auth/repository-access.js';
import { keys, type AgentRecord } from '../model.js';
import { pageOfAgents, pageOfAgentsIn, type AgentPage } from '../store/agent-queries.js';
import { latestJobsOfAgent } from '../store/job-queries.js';
import { releasesOfAgent } from '../store/release-queries.js';
import type { Store } from '../store/store.js';
import { agentFactsReader, lostAfterMsOf, type CloudListings } from './agents-facts.js';
import { groupsOfAgent, scanGroups } from './agents-groups.js';
import { AGENTS_HEADER, AGENTS_STYLE, agentFactsTable, agentRow, applicationsTable, groupsTable, jobsTable } from './agents-html.js';
import type { DashboardSessions } from './dashboard-sessions.js';
import { fleetRefusal, fleetScope, type FleetConfigs } from './fleet-scope.js';
import { frameOf } from './agents-frame.js';
import { page } from './html.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';
import { html, safeHref, trustedHtml } from './safe-html.js';

export const AGENTS_PER_PAGE = 50;
/** An agent's latest jobs shown (newest first). */
export const AGENT_JOBS = 20;
/** An agent's releases shown (one per repository and environment it runs). */
export const AGENT_RELEASES = 200;

export interface AgentsPageDeps {
  store: Store;
  configs?: FleetConfigs;
  sessions?: DashboardSessions;
  /** GitHub mode: what a person signed in with GitHub may see (fleet-scope.ts). */
  access?: RepositoryAccess;
  heartbeatSeconds: number;
  cloud?: CloudListings;
  now?: () => number;
}

export function agentsPageRoutes(deps: AgentsPageDeps): Router {
  const { store, configs, sessions } = deps;
  const now = deps.now ?? Date.now;
  const read = agentFactsReader(deps);
  const router = new Router();

  router.get('/agents', renderErrorsAsPages, async (ctx) => {
    const scope = await fleetScope(ctx, deps.access, configs);
    if (!scope.any) throw fleetRefusal();
    const state = query(ctx, 'state');
    const group = query(ctx, 'group');
    const after = query(ctx, 'after');
    if (state !== undefined && state !== 'online' && state !== 'lost') throw new BitEnvoyError('BE_BAD_REQUEST', `state: "${state.slice(0, 40)}" is not a state to filter by: use online or lost`);
    const at = now();
    const lostBeforeIso = new Date(at - lostAfterMsOf(deps.heartbeatSeconds)).toISOString();
    let shown: AgentPage;
    let note = html``;
    if (group !== undefined) {
      const selector = scope.configs.find((c) => c.groups[group])?.groups[group]?.selector;
      if (!selector) throw new BitEnvoyError('BE_NOT_FOUND', `no config in force defines a group "${group.slice(0, 80)}": see /config for the groups there are`);
      const scan = await scanGroups(store, read, { [group]: selector }, { want: AGENTS_PER_PAGE, now: at, stopWhenFull: true, ...(after ? { after } : {}) });
      shown = { agents: scan.groups.get(group)!.members.map((v) => v.agent), ...(scan.stoppedAfter ? { next: scan.stoppedAfter } : {}) };
      if (scan.stoppedAfter && shown.agents.length < AGENTS_PER_PAGE) note = html`<p class="muted">Looked at ${scan.scanned} agents by name up to ${scan.stoppedAfter}; the next page looks further.</p>`;
    } else {
      shown = state ? await pageOfAgentsIn(store, { state, lostBeforeIso, limit: AGENTS_PER_PAGE, ...(after ? { after } : {}) }) : await pageOfAgents(store, { limit: AGENTS_PER_PAGE, ...(after ? { after } : {}) });
    }
    const views = await read(shown.agents, at);
    const link = (more: Record<string, string>) => `/agents?${new URLSearchParams({ ...(state ? { state } : {}), ...(group ? { group } : {}), ...more })}`;
    const option = (value: string, label: string) => html`<option value="${value}"${value === (state ?? '') ? trustedHtml(' selected') : ''}>${label}</option>`;
    ctx.type = 'html';
    ctx.body = page(
      'Agents',
      html`${AGENTS_STYLE}<h1>Agents${group ? html` in group ${group}` : ''}</h1>
<form class="filters" method="get" action="/agents" role="search">
<label>State <select name="state">${option('', 'all')}${option('online', 'online')}${option('lost', 'lost')}</select></label>
${group ? html`<input type="hidden" name="group" value="${group}">` : ''}<button type="submit">Filter</button>${state || group ? html` <a href="/agents">all agents</a>` : ''}
</form>
${group && state ? html`<p class="muted">The group's agents are shown whatever their state.</p>` : ''}
${views.size ? html`<table>${AGENTS_HEADER}${[...views.values()].map(agentRow)}</table>` : html`<p>No agent${state ? html` is ${state}` : ''}${group ? html` in group ${group}` : ''}${after ? ' after this point' : ''}.${!state && !group && !after ? ' Enroll one: bitenvoy enroll-token, then bitenvoy agent enroll on the server.' : ''}</p>`}
${note}<p><a href="/config">The config in force and its groups</a></p>
<p>Lost: no request for ${lostAfterMsOf(deps.heartbeatSeconds) / 1000} s (three heartbeat intervals).${after ? html` <a href="${safeHref(link({}))}">first page</a>` : ''}${shown.next ? html` · <a href="${safeHref(link({ after: shown.next }))}">next ${AGENTS_PER_PAGE}</a>` : ''}</p>`.toString(),
      undefined,
      undefined,
      await frameOf(ctx, sessions, 'agents'),
    );
  });

  router.get('/agents/:name', renderErrorsAsPages, async (ctx) => {
    const name = ctx.params.name!;
    ctx.state.errorBack = { href: '/agents', label: 'all agents' };
    const scope = await fleetScope(ctx, deps.access, configs);
    if (!scope.any) throw fleetRefusal();
    const id = await store.get<string>(keys.agentByName(name));
    const agent = id ? await store.get<AgentRecord>(keys.agent(id)) : undefined;
    if (!agent) throw new BitEnvoyError('BE_NOT_FOUND', `no agent named "${name.slice(0, 80)}" is enrolled on this hub`);
    const at = now();
    const [views, latest, ownReleases] = await Promise.all([read([agent], at), latestJobsOfAgent(store, agent.id, AGENT_JOBS), releasesOfAgent(store, agent.id, AGENT_RELEASES)]);
    const view = views.get(agent.id)!;
    // Only releases and jobs of repositories the person can read (one cached answer per repository).
    const repositories = new Set([...latest.map((j) => j.spec.repository), ...ownReleases.map((r) => r.repository)]);
    const readable = new Map(await Promise.all([...repositories].map(async (r) => [r, await scope.canView(r)] as const)));
    const jobs = latest.filter((j) => readable.get(j.spec.repository));
    const releases = ownReleases.filter((r) => readable.get(r.repository));
    const hiddenJobs = latest.length - jobs.length;
    const hiddenReleases = ownReleases.length - releases.length;
    ctx.type = 'html';
    ctx.body = page(
      `Agent ${agent.name}`,
      html`${AGENTS_STYLE}<h1>Agent ${agent.name}</h1>
${agentFactsTable(view, lostAfterMsOf(deps.heartbeatSeconds) / 1000)}
<h2 id="applications">What it runs</h2>
<p class="muted">Per application, its release: the newest job that succeeded there.${hiddenReleases ? html` ${hiddenReleases} more, of repositories your GitHub account cannot read, are not shown.` : ''}</p>
${applicationsTable(releases)}
${jobs.length || hiddenJobs ? html`<h2 id="jobs">Latest jobs</h2><p class="muted">Its latest ${AGENT_JOBS} jobs, newest first.${hiddenJobs ? html` ${hiddenJobs} of them, of repositories your GitHub account cannot read, are not shown.` : ''}</p>${jobsTable(jobs)}` : ''}
<h2 id="groups">Groups</h2>
<p class="muted">Each group of the config in force, its selector evaluated against this agent's labels and verified cloud facts now.</p>
${groupsTable(groupsOfAgent(view, scope.configs))}
<p><a href="/agents">All agents</a></p>`.toString(),
      undefined,
      undefined,
      await frameOf(ctx, sessions, 'agents'),
    );
  });

  return router;
}


function query(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  return typeof value === 'string' && value !== '' ? value.slice(0, 300) : undefined;
}
