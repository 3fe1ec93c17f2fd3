/**
 * The server parts of the deployment page: counts by state with filter links, the batches, failures first with their
 * log tails, and one page of servers with links to the next page and to each server's own page (its log on demand).
 * Everything shown is bounded: a page of servers, the first failures, short tails.
 */
import { JOB_STATES, type JobState } from '../../lib/protocol.js';
import type { DeploymentSummary, ServerDetail, ServerPage, ServerRow, StateCounts } from '../rollout/deployment-view.js';
import { escapeHtml as e } from './html.js';

/** Servers per page of the status page. */
export const PAGE_SERVERS = 50;
/** Lines of log shown inline: for each failure, and for a server running now. */
export const INLINE_TAIL_LINES = 20;
/** Lines of log on a server's own page (`?lines=` up to LOG_LINES_MAX). */
export const SERVER_PAGE_LINES = 200;

/** States whose servers show their log tail inline on the deployment page (the others link to it). */
export const LIVE_STATES: readonly JobState[] = ['claimed', 'fetching', 'running'];

export function deploymentPath(id: string, query: { after?: string; state?: string } = {}): string {
  const params = new URLSearchParams();
  if (query.state) params.set('state', query.state);
  if (query.after) params.set('after', query.after);
  const search = params.toString();
  return `/deployments/${encodeURIComponent(id)}${search ? `?${search}` : ''}`;
}

export function serverPath(id: string, jobId: string): string {
  return `/deployments/${encodeURIComponent(id)}/servers/${encodeURIComponent(jobId)}`;
}

/** "12 planned · succeeded 10 · running 2", each state a link that shows only its servers. */
export function countsHtml(id: string, summary: DeploymentSummary, state: JobState | undefined): string {
  const links = JOB_STATES.filter((s) => summary.counts[s]).map((s) =>
    s === state ? `<strong class="state ${e(s)}">${e(s)} ${summary.counts[s]}</strong>` : `<a class="state ${e(s)}" href="${e(deploymentPath(id, { state: s }))}">${e(s)} ${summary.counts[s]}</a>`,
  );
  const all = state ? `<a href="${e(deploymentPath(id))}">all</a>` : '<strong>all</strong>';
  return `<p class="counts">${summary.servers} server${summary.servers === 1 ? '' : 's'} planned · ${[all, ...links].join(' · ')}</p>`;
}

/** The batches with their sizes, pauses and counts by state (the summary holds at most 100 of them). */
export function batchesHtml(summary: DeploymentSummary): string {
  const d = summary.deployment;
  if (d.batchCount <= 1) return '';
  const rows = d.batches.map(
    (b) => `<tr><td>${b.index + 1}${b.index === d.currentBatch ? ' (current)' : ''}</td><td>${b.size}</td><td>${e(pauseText(b.pauseAfter))}</td><td>${e(countsText(b.counts)) || 'not started'}</td></tr>`,
  );
  const cut = d.batches.length < d.batchCount ? `<p><small>${d.batches.length} of ${d.batchCount} batches shown, around the current one.</small></p>` : '';
  return `<h2>Batches</h2>\n<table><tr><th>batch</th><th>servers</th><th>pause after</th><th>jobs</th></tr>\n${rows.join('\n')}\n</table>${cut}`;
}

/** The first failed or refused servers, each with why and its log tail. */
export function failuresHtml(id: string, summary: DeploymentSummary, tails: ReadonlyMap<string, string[]>): string {
  if (!summary.failures.length) return '';
  const failed = (summary.counts.failed ?? 0) + (summary.counts.refused ?? 0);
  const more = failed > summary.failures.length ? `<p><small>The first ${summary.failures.length} of ${failed}: <a href="${e(deploymentPath(id, { state: 'failed' }))}">all failed servers</a>.</small></p>` : '';
  return `<h2>Failures</h2>\n${summary.failures.map((s) => serverHtml(id, s, tails.get(s.jobId) ?? [])).join('\n')}\n${more}`;
}

/** One page of servers, with the link to the next page and back to the first. */
export function serverListHtml(id: string, page: ServerPage, tails: ReadonlyMap<string, string[]>, query: { after?: string; state?: JobState }): string {
  const nav = [
    query.after ? `<a href="${e(deploymentPath(id, { ...(query.state ? { state: query.state } : {}) }))}">first page</a>` : '',
    page.next ? `<a rel="next" href="${e(deploymentPath(id, { ...(query.state ? { state: query.state } : {}), after: page.next }))}">next ${PAGE_SERVERS} servers</a>` : '',
  ].filter(Boolean);
  const empty = query.state ? `<p>No server here is ${e(query.state)}.</p>` : '<p>No server has started yet.</p>';
  return `<h2>Servers${query.state ? ` (${e(query.state)})` : ''}</h2>
${page.servers.length ? page.servers.map((s) => serverHtml(id, s, tails.get(s.jobId))).join('\n') : empty}
${nav.length ? `<p class="pages">${nav.join(' · ')}</p>` : ''}`;
}

/** A server: name, state and batch; its step and message; its log tail when given, else a link to it. */
function serverHtml(id: string, s: ServerRow, tail: string[] | undefined): string {
  const log = tail
    ? `<pre>${e(tail.join('\n')) || '(no output yet)'}</pre><p><small><a href="${e(serverPath(id, s.jobId))}">more of the log</a></small></p>`
    : `<p><small><a href="${e(serverPath(id, s.jobId))}">log</a></small></p>`;
  return `<section><h3>${e(s.agentName)} <span class="state ${e(s.state)}">${e(s.state)}</span> <small>batch ${s.batch + 1}</small></h3>
${s.step ? `<p>step ${s.step.index + 1} <code>${e(s.step.name)}</code>: ${e(s.step.status)}</p>` : ''}
${s.message ? `<p>${e(s.message)}</p>` : ''}
${log}</section>`;
}

/** A server's own page: its job's times, steps and state changes, and a longer log tail. */
export function serverDetailHtml(depId: string, s: ServerDetail, tail: string[]): string {
  const events = s.events.map((ev) =>
    ev.type === 'state'
      ? `<li>${e(ev.at)} ${e(ev.state)}${ev.message ? `: ${e(ev.message)}` : ''}</li>`
      : `<li>${e(ev.at)} step ${ev.step.index + 1} <code>${e(ev.step.name)}</code> ${e(ev.status)}</li>`,
  );
  return `<p><a href="${e(deploymentPath(depId))}">← deployment ${e(depId)}</a></p>
<h1>${e(s.agentName)} <span class="state ${e(s.state)}">${e(s.state)}</span></h1>
<table>
<tr><th>job</th><td><code>${e(s.id)}</code>, batch ${s.batch + 1}</td></tr>
${s.claimedAt ? `<tr><th>claimed</th><td>${e(s.claimedAt)}</td></tr>` : ''}
${s.finishedAt ? `<tr><th>finished</th><td>${e(s.finishedAt)}</td></tr>` : ''}
${s.step ? `<tr><th>step</th><td>${s.step.index + 1} <code>${e(s.step.name)}</code>: ${e(s.step.status)}</td></tr>` : ''}
${s.message ? `<tr><th>message</th><td>${e(s.message)}</td></tr>` : ''}
</table>
${events.length ? `<h2>Events</h2><ul>${events.join('')}</ul>` : ''}
<h2>Log</h2>
${s.logsDropped ? `<p><small>${e(s.logsDropped)} older log chunks were dropped (the hub keeps the newest 2 MiB per job).</small></p>` : ''}
<pre>${e(tail.join('\n')) || '(no output yet)'}</pre>
<p><small>The last ${tail.length} lines; <code>?lines=</code> shows up to 500.</small></p>`;
}

function pauseText(pause: number | 'manual' | undefined): string {
  if (pause === undefined) return '';
  return pause === 'manual' ? 'until continued' : `${Math.round(pause / 1000)} s`;
}

function countsText(counts: StateCounts): string {
  return JOB_STATES.filter((s) => counts[s]).map((s) => `${s} ${counts[s]}`).join(', ');
}
