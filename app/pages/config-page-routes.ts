/**
 * `GET /config`: the config in force. Per config repo (one, or one per installation owner in GitHub mode) the commit
 * in force and when it loaded, its source without credentials (ConfigRepo.status), the newest commit that did not
 * validate with each error and its fix, and the last failure to read the repository; then each group of the config
 * in force resolved to its agents now — a count and the first names, linking to the agents page filtered by the
 * group. Groups are resolved in one walk over at most SCAN_BUDGET agents by name (labels are not indexed): past that
 * the count says "at least".
 *
 * @example
 * const router = configPageRoutes({ store, configs, heartbeatSeconds: 60 });
 */
import { Router } from '@koa/router';
import type { LabelSelector } from '../../config-schema/types.generated.js';
import type { RepositoryAccess } from '../auth/repository-access.js';
import type { ConfigStatus } from '../config/config-repo.js';
import { describeSelector } from '../rollout/select-agents.js';
import type { Store } from '../store/store.js';
import { agentFactsReader, type CloudListings } from './agents-facts.js';
import { frameOf } from './agents-frame.js';
import { scanGroups, SCAN_BUDGET } from './agents-groups.js';
import { AGENTS_STYLE, agentPath } from './agents-html.js';
import type { DashboardSessions } from './dashboard-sessions.js';
import { utc } from './environments-html.js';
import { fleetRefusal, fleetScope, type FleetConfigs } from './fleet-scope.js';
import { page } from './html.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';
import { html, safeHref, type SafeHtml } from './safe-html.js';

/** Names shown per group; the agents page lists the rest. */
export const GROUP_NAMES_SHOWN = 20;

export interface ConfigPageDeps {
  store: Store;
  configs?: FleetConfigs & { statuses(): ConfigStatus[] };
  sessions?: DashboardSessions;
  /** GitHub mode: what a person signed in with GitHub may see (fleet-scope.ts). */
  access?: RepositoryAccess;
  heartbeatSeconds: number;
  cloud?: CloudListings;
  now?: () => number;
}

export function configPageRoutes(deps: ConfigPageDeps): Router {
  const { store, configs, sessions } = deps;
  const read = agentFactsReader(deps);
  const router = new Router();

  router.get('/config', renderErrorsAsPages, async (ctx) => {
    const scope = await fleetScope(ctx, deps.access, configs);
    if (!scope.any && configs?.statuses().length) throw fleetRefusal();
    const statuses = (configs?.statuses() ?? []).filter(scope.showsStatus);
    // Every group of every config in force, keyed by config and name (two owners may both have a group `web`).
    const groups = scope.configs.flatMap((config, i) => Object.entries(config.groups).map(([name, group]) => ({ key: `${i} ${name}`, sha: config.sha, name, group })));
    const selectors: Record<string, LabelSelector> = Object.fromEntries(groups.map((g) => [g.key, g.group.selector]));
    const scan = groups.length ? await scanGroups(store, read, selectors, { want: GROUP_NAMES_SHOWN, now: (deps.now ?? Date.now)() }) : undefined;
    const several = statuses.length > 1;
    ctx.type = 'html';
    ctx.body = page(
      'Config',
      html`${AGENTS_STYLE}<h1>Config</h1>
${statuses.length ? statuses.map(statusSection) : html`<p>No config repo is set: set BITENVOY_CONFIG_REPO, or in GitHub mode install the App on an account that has a <code>.bitenvoy</code> repository.</p>`}
<h2 id="groups">Groups</h2>
${
  groups.length && scan
    ? html`<p class="muted">Each group resolved to its agents now, from their labels and verified cloud facts.${scan.stoppedAfter ? html` Only the first ${SCAN_BUDGET} agents by name (up to ${scan.stoppedAfter}) were looked at: counts are lower bounds; each group's link lists them all.` : ''}</p>
<table><tr><th scope="col">Group</th><th scope="col">Selector</th><th scope="col">Agents</th><th scope="col">First ${GROUP_NAMES_SHOWN}</th></tr>
${groups.map((g) => {
  const found = scan.groups.get(g.key)!;
  const list = `/agents?${new URLSearchParams({ group: g.name })}`;
  return html`<tr><th scope="row">${g.name}${several ? html` <small>(config ${g.sha.slice(0, 7)})</small>` : ''}${g.group.description ? html`<br><small>${g.group.description}</small>` : ''}</th><td><code>${describeSelector(g.group.selector)}</code></td><td><a href="${safeHref(list)}">${scan.stoppedAfter ? 'at least ' : ''}${found.count}</a></td><td>${
    found.members.length ? found.members.map((m, i) => html`${i ? ', ' : ''}<a href="${safeHref(agentPath(m.agent.name))}">${m.agent.name}</a>`) : html`<span class="muted">none</span>`
  }${found.count > found.members.length ? html` · <a href="${safeHref(list)}">all</a>` : ''}</td></tr>`;
})}</table>`
    : html`<p>No config is in force, so no group is defined.</p>`
}`.toString(),
      undefined,
      undefined,
      await frameOf(ctx, sessions, undefined),
    );
  });

  return router;
}

function statusSection(status: ConfigStatus): SafeHtml {
  return html`<section><h2>${status.owner ? html`${status.owner}: ` : ''}<code>${status.source}</code></h2>
<table class="facts">
<tr><th scope="row">Commit in force</th><td>${status.sha ? html`<code>${status.sha}</code>` : html`<span class="state failed">none</span> <small>no commit has loaded and validated yet</small>`}</td></tr>
<tr><th scope="row">Loaded</th><td>${utc(status.loadedAt) || '—'}</td></tr>
${status.branch ? html`<tr><th scope="row">Branch</th><td>${status.branch}</td></tr>` : ''}
<tr><th scope="row">Last checked</th><td>${utc(status.lastCheckedAt) || '—'}</td></tr>
${status.lastError ? html`<tr><th scope="row">Last error</th><td class="error">${status.lastError}</td></tr>` : ''}
</table>
${
  status.rejected
    ? html`<div class="error"><p><strong>Rejected commit <code>${status.rejected.sha}</code></strong>: it did not validate, so ${status.sha ? 'the commit above stays in force' : 'no config is in force'}.</p>
<ul>${status.rejected.errors.map((e) => html`<li><code>${e.file}${e.line ? `:${e.line}` : ''}</code>${e.path ? html` <code>${e.path}</code>` : ''}: ${e.message}${e.hint ? html` <small>${e.hint}</small>` : ''}</li>`)}</ul></div>`
    : ''
}</section>`;
}
