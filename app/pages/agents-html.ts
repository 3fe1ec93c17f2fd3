/**
 * The markup of the agents pages, every value through the `html` tag (escaped) and every link through `safeHref`: a
 * row per agent on `/agents`, and one agent's facts, release per application, latest jobs and groups on `/agents/:name`.
 *
 * @example
 * html`<table>${AGENTS_HEADER}${views.map(agentRow)}</table>`;
 */
import type { Labels } from '../../lib/protocol.js';
import type { JobRecord } from '../model.js';
import type { Release } from '../store/release-queries.js';
import type { AgentView } from './agents-facts.js';
import type { AgentGroup } from './agents-groups.js';
import { agentUpdateNotice } from './agent-update.js';
import { environmentPath, utc } from './environments-html.js';
import { serverPath } from './servers-html.js';
import { html, safeHref, trustedHtml, type SafeHtml } from './safe-html.js';

export const agentPath = (name: string): string => `/agents/${encodeURIComponent(name)}`;

export const AGENTS_STYLE = trustedHtml(
  '<style>.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin:1rem 0}.filters label{display:flex;flex-direction:column;font-size:.9rem}' +
    '.online{color:var(--ok)}.lost,.quarantined{color:var(--bad)}ul.labels{list-style:none;margin:0;padding:0}.paused-state{color:var(--warn)}table.facts{width:auto}table.facts th{padding-right:1.5rem}</style>',
);

export const AGENTS_HEADER = trustedHtml('<tr><th scope="col">Agent</th><th scope="col">State</th><th scope="col">Version</th><th scope="col">Labels</th><th scope="col">Cloud facts (verified)</th><th scope="col">Last seen</th></tr>');

export function labelsHtml(labels: Labels): SafeHtml {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? html`<ul class="labels">${entries.map(([k, v]) => html`<li><code>${k}=${v}</code></li>`)}</ul>` : html`<span class="muted">none</span>`;
}

export function cloudHtml(view: AgentView): SafeHtml {
  if (view.cloud.unknown) return html`<span class="muted">unknown: ${view.cloud.unknown}</span>`;
  return Object.keys(view.cloud.labels).length ? labelsHtml(view.cloud.labels) : html`<span class="muted">none</span>`;
}

export const stateHtml = (view: AgentView): SafeHtml => html`<span class="state ${view.state}">${view.state}</span>`;

/** The agent's version, with the update notice when the hub is newer. */
export function versionHtml(version: string): SafeHtml {
  const notice = agentUpdateNotice(version);
  return notice ? html`${version}<br><small class="update">${notice}</small>` : html`${version}`;
}

export function agentRow(view: AgentView): SafeHtml {
  const a = view.agent;
  return html`<tr><th scope="row"><a href="${safeHref(agentPath(a.name))}">${a.name}</a></th><td>${stateHtml(view)}</td><td>${versionHtml(a.version)}</td><td>${labelsHtml(view.labels)}</td><td>${cloudHtml(view)}</td><td>${utc(a.lastSeenAt) || html`<span class="muted">never</span>`}</td></tr>`;
}

export function agentFactsTable(view: AgentView, lostAfterSeconds: number): SafeHtml {
  const a = view.agent;
  return html`<table class="facts">
<tr><th scope="row">State</th><td>${stateHtml(view)}${view.quarantine ? html`<br><small>${view.quarantine}</small>` : ''}${view.state === 'lost' ? html`<br><small>no request for more than ${lostAfterSeconds} s (three heartbeat intervals)</small>` : ''}</td></tr>
<tr><th scope="row">Last seen</th><td>${utc(a.lastSeenAt) || 'never'}</td></tr>
<tr><th scope="row">Version</th><td>${versionHtml(a.version)}</td></tr>
<tr><th scope="row">Enrolled</th><td>${utc(a.enrolledAt)}</td></tr>
<tr><th scope="row">Labels</th><td>${labelsHtml(view.labels)}</td></tr>
<tr><th scope="row">Cloud facts (verified)</th><td>${cloudHtml(view)}</td></tr>
<tr><th scope="row">Id</th><td><code>${a.id}</code></td></tr>
</table>`;
}

/**
 * Per application (repository → environment): the release the agent runs now (the newest job that succeeded there),
 * linked to its deployment's server page — or named without a link when retention has pruned that deployment.
 */
export function applicationsTable(releases: Release[]): SafeHtml {
  if (!releases.length) return html`<p>No job has succeeded on this agent yet.</p>`;
  return html`<table><tr><th scope="col">Application</th><th scope="col">Environment</th><th scope="col">Commit</th><th scope="col">From deployment</th><th scope="col">Since</th></tr>
${releases.map(
  (r) =>
    html`<tr><th scope="row">${r.repository}</th><td><a href="${safeHref(environmentPath(r.repository, r.environment))}">${r.environment}</a></td><td><code title="${r.sha}">${r.sha.slice(0, 7)}</code></td><td>${
      r.deploymentKept ? html`<a href="${safeHref(serverPath(r.deploymentId, r.jobId))}">${r.deploymentId}</a>` : html`${r.deploymentId} <small class="muted">(pruned)</small>`
    }</td><td>${utc(r.at)}</td></tr>`,
)}</table>`;
}

export function jobsTable(jobs: JobRecord[]): SafeHtml {
  if (!jobs.length) return html``;
  return html`<table><tr><th scope="col">Created</th><th scope="col">Deployment</th><th scope="col">Application</th><th scope="col">Commit</th><th scope="col">State</th></tr>
${jobs.map(
  (job) =>
    html`<tr><td>${utc(job.spec.createdAt)}</td><td><a href="${safeHref(`/deployments/${encodeURIComponent(job.spec.deploymentId)}`)}">${job.spec.deploymentId}</a></td><td>${job.spec.repository} → ${job.spec.environment}</td><td><code>${job.spec.sha.slice(0, 7)}</code></td><td>${jobStateHtml(job)}</td></tr>`,
)}</table>`;
}

function jobStateHtml(job: JobRecord): SafeHtml {
  return html`<a href="${safeHref(serverPath(job.spec.deploymentId, job.spec.id))}"><span class="state ${job.state}">${job.state}</span></a>${job.step ? html` <small>${job.step.name}</small>` : ''}${job.message ? html`<br><small>${job.message}</small>` : ''}`;
}

export function groupsTable(groups: AgentGroup[]): SafeHtml {
  if (!groups.length) return html`<p>No config is in force, so no group is defined.</p>`;
  const several = new Set(groups.map((g) => g.sha)).size > 1;
  return html`<table><tr><th scope="col">Group</th><th scope="col">Selector</th><th scope="col">This agent</th></tr>
${groups.map(
  (g) =>
    html`<tr><th scope="row"><a href="${safeHref(`/agents?${new URLSearchParams({ group: g.name })}`)}">${g.name}</a>${several ? html` <small>(config ${g.sha.slice(0, 7)})</small>` : ''}</th><td><code>${g.selector}</code></td><td>${
      g.verdict === 'match' ? html`<strong>in the group</strong>` : g.verdict === 'unknown' ? html`<span class="paused-state">unknown now</span><br><small>${g.unknown}</small>` : html`<span class="muted">not in it</span>`
    }</td></tr>`,
)}</table>`;
}
