/**
 * The server parts of the deployment page: counts by state with filter links, the timeline of batches and gates,
 * failures first with their log tails, and one page of servers with links to the next page and to each server's own
 * page (its steps, live log, search and download). Everything shown is bounded: a page of servers, the first failures,
 * short tails, at most 100 batches.
 *
 * @example
 * html`${countsHtml(d.id, summary, undefined)}${timelineHtml(summary)}${serverListHtml(d.id, servers, tails, {})}`;
 */
import { JOB_STATES, type JobState } from '../../lib/protocol.js';
import type { DeploymentSummary, ServerDetail, ServerPage, ServerRow, StateCounts } from '../rollout/deployment-view.js';
import { clockTime, formatDuration, stepRuns } from './job-steps.js';
import { html, safeHref, type SafeHtml } from './safe-html.js';

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
export function countsHtml(id: string, summary: DeploymentSummary, state: JobState | undefined): SafeHtml {
  const links = JOB_STATES.filter((s) => summary.counts[s]).map((s) =>
    s === state ? html`<strong class="state ${s}">${s} ${summary.counts[s]}</strong>` : html`<a class="state ${s}" href="${safeHref(deploymentPath(id, { state: s }))}">${s} ${summary.counts[s]}</a>`,
  );
  const all = state ? html`<a href="${safeHref(deploymentPath(id))}">all</a>` : html`<strong>all</strong>`;
  return html`<p class="counts">${summary.servers} server${summary.servers === 1 ? '' : 's'} planned · ${[all, ...links].map((l, i) => (i ? html` · ${l}` : l))}</p>`;
}

/**
 * The rollout as a timeline: each batch (done, running or ahead, with its counts), and after it the gate it waits at
 * — a pause of some seconds or a manual continue — passed, held now (since when, until when) or ahead.
 */
export function timelineHtml(summary: DeploymentSummary): SafeHtml {
  const d = summary.deployment;
  if (!d.batchCount) return html``;
  const items = d.batches.map((b) => {
    const total = JOB_STATES.reduce((n, s) => n + (b.counts[s] ?? 0), 0);
    const ended = (b.counts.succeeded ?? 0) + (b.counts.failed ?? 0) + (b.counts.refused ?? 0) + (b.counts.cancelled ?? 0);
    const status = b.index > d.currentBatch || total === 0 ? 'ahead' : ended === b.size ? 'done' : 'running';
    const gate = b.pauseAfter === undefined ? undefined : gateItem(summary, b.index, b.pauseAfter);
    return html`<li class="batch ${status}"><strong>Batch ${b.index + 1}</strong> · ${b.size} server${b.size === 1 ? '' : 's'} · ${status}${countsText(b.counts) ? html` · ${countsText(b.counts)}` : ''}</li>${gate}`;
  });
  const cut = d.batches.length < d.batchCount ? html`<p><small>${d.batches.length} of ${d.batchCount} batches shown, around the current one.</small></p>` : '';
  return html`<h2>Timeline</h2>
<ol class="timeline">${items}</ol>${cut}`;
}

function gateItem(summary: DeploymentSummary, batch: number, pause: number | 'manual'): SafeHtml {
  const d = summary.deployment;
  const what = pause === 'manual' ? 'waits for someone to continue' : `pauses ${Math.round(pause / 1000)} s`;
  let status: string;
  if (d.gate && d.gate.afterBatch === batch) {
    status = `held now, since ${clockTime(d.gate.since)}${d.gate.until ? `, until ${clockTime(d.gate.until)}` : ''}`;
  } else if (batch < d.currentBatch) status = 'passed';
  else status = 'ahead';
  return html`<li class="gate${status.startsWith('held') ? ' held' : ''}">Gate: ${what} · ${status}</li>`;
}

/** The first failed or refused servers, each with why and its log tail. */
export function failuresHtml(id: string, summary: DeploymentSummary, tails: ReadonlyMap<string, string[]>): SafeHtml {
  if (!summary.failures.length) return html``;
  const failed = (summary.counts.failed ?? 0) + (summary.counts.refused ?? 0);
  const more = failed > summary.failures.length ? html`<p><small>The first ${summary.failures.length} of ${failed}: <a href="${safeHref(deploymentPath(id, { state: 'failed' }))}">all failed servers</a>.</small></p>` : '';
  return html`<h2>Failures</h2>\n${summary.failures.map((s) => serverHtml(id, s, tails.get(s.jobId) ?? []))}\n${more}`;
}

/** One page of servers, with the link to the next page and back to the first. */
export function serverListHtml(
  id: string,
  page: ServerPage,
  tails: ReadonlyMap<string, string[]>,
  query: { after?: string; state?: JobState },
  silent: ReadonlyMap<string, string> = new Map(),
): SafeHtml {
  const nav = [
    query.after ? html`<a href="${safeHref(deploymentPath(id, { ...(query.state ? { state: query.state } : {}) }))}">first page</a>` : undefined,
    page.next ? html`<a rel="next" href="${safeHref(deploymentPath(id, { ...(query.state ? { state: query.state } : {}), after: page.next }))}">next ${PAGE_SERVERS} servers</a>` : undefined,
  ].filter((n) => n !== undefined);
  const empty = query.state ? html`<p>No server here is ${query.state}.</p>` : html`<p>No server has started yet.</p>`;
  return html`<h2>Servers${query.state ? ` (${query.state})` : ''}</h2>
${page.servers.length ? page.servers.map((s) => serverHtml(id, s, tails.get(s.jobId), silent.get(s.jobId))) : empty}
${nav.length ? html`<p class="pages">${nav.map((l, i) => (i ? html` · ${l}` : l))}</p>` : ''}`;
}

/** A server: name, state and batch; its step and message; its agent's silence; its log tail when given, else a link. */
function serverHtml(id: string, s: ServerRow, tail: string[] | undefined, silent?: string): SafeHtml {
  const log = tail
    ? html`<pre>${tail.join('\n') || '(no output yet)'}</pre><p><small><a href="${safeHref(serverPath(id, s.jobId))}">more of the log</a></small></p>`
    : html`<p><small><a href="${safeHref(serverPath(id, s.jobId))}">log</a></small></p>`;
  return html`<section><h3>${s.agentName} <span class="state ${s.state}">${s.state}</span> <small>batch ${s.batch + 1}</small></h3>
${s.step ? html`<p>step ${s.step.index + 1} <code>${s.step.name}</code>: ${s.step.status}</p>` : ''}
${s.message ? html`<p>${s.message}</p>` : ''}
${silent ? html`<p class="unseen" role="status">${silent}</p>` : ''}
${log}</section>`;
}

/** The part of a server's page that changes while it runs: state, times, message and its steps with durations. */
export function serverFactsHtml(s: ServerDetail): SafeHtml {
  const steps = stepRuns(s.events);
  const rows = steps.map(
    (r) => html`<tr><th scope="row">${r.index + 1}</th><td><code>${r.name}</code></td><td class="state ${r.status === 'started' ? 'running' : r.status === 'succeeded' ? 'succeeded' : 'failed'}">${r.status === 'started' ? 'running' : r.status}</td>
<td>${r.startedAt ? clockTime(r.startedAt) : ''}</td><td>${r.durationMs === undefined ? '' : formatDuration(r.durationMs)}</td><td>${r.exitCode === undefined || r.exitCode === null ? '' : r.exitCode}${r.message ? html` ${r.message}` : ''}</td></tr>`,
  );
  const changes = s.events.flatMap((ev) => (ev.type === 'state' ? [html`<li>${clockTime(ev.at)} ${ev.state}${ev.message ? `: ${ev.message}` : ''}</li>`] : []));
  return html`<h1>${s.agentName} <span class="state ${s.state}">${s.state}</span></h1>
<table>
<tr><th scope="row">job</th><td><code>${s.id}</code>, batch ${s.batch + 1}</td></tr>
${s.claimedAt ? html`<tr><th scope="row">claimed</th><td>${s.claimedAt}</td></tr>` : ''}
${s.finishedAt ? html`<tr><th scope="row">finished</th><td>${s.finishedAt}${s.claimedAt ? ` (${formatDuration(Date.parse(s.finishedAt) - Date.parse(s.claimedAt))} after its claim)` : ''}</td></tr>` : ''}
${s.message ? html`<tr><th scope="row">message</th><td>${s.message}</td></tr>` : ''}
</table>
${changes.length ? html`<h2>State changes</h2><ul>${changes}</ul>` : ''}
<h2>Steps</h2>
${rows.length ? html`<table class="steps"><tr><th scope="col">#</th><th scope="col">step</th><th scope="col">status</th><th scope="col">started</th><th scope="col">took</th><th scope="col">exit</th></tr>${rows}</table>` : html`<p>No step has started yet.</p>`}`;
}

export function countsText(counts: StateCounts): string {
  return JOB_STATES.filter((s) => counts[s]).map((s) => `${s} ${counts[s]}`).join(', ');
}
