/**
 * The markup of the environments pages, every value through the `html` tag (escaped) and every link through
 * `safeHref`: a row per environment on `/`, and the header facts, history and servers of `/environments/…`.
 *
 * @example
 * html`<table>${environmentsHeader}${facts.map(environmentRow)}</table>`;
 */
import type { DeploymentRecord } from '../model.js';
import { describeLock } from '../rollout/environment-locks.js';
import type { DeploymentBrief } from '../rollout/environment-status.js';
import type { Release } from '../store/release-queries.js';
import type { EnvironmentFacts } from './environments-facts.js';
import { html, safeHref, trustedHtml, type SafeHtml } from './safe-html.js';

/** `/environments/acme/shop/production`: each part encoded. */
export function environmentPath(repository: string, environment: string): string {
  const slash = repository.indexOf('/');
  return `/environments/${encodeURIComponent(repository.slice(0, slash))}/${encodeURIComponent(repository.slice(slash + 1))}/${encodeURIComponent(environment)}`;
}

export const utc = (iso: string | undefined): string => (iso ? iso.replace('T', ' ').replace(/(:\d\d)(\.\d+)?Z$/, '$1 UTC') : '');

/** Where a commit is shown: on GitHub for a deployment GitHub knows (GitHub Enterprise too), else its deployment page. */
/** The ref a deployment was asked for, unless it is the commit itself (a rollback, a retry): the SHA says it already. */
const refOf = (d: DeploymentRecord): string => (d.ref === d.sha ? '' : d.ref);

export function commitHref(d: DeploymentRecord): string {
  if (d.github?.cloneUrl) return safeHref(`${d.github.cloneUrl.replace(/\.git$/, '')}/commit/${d.sha}`);
  return safeHref(`/deployments/${encodeURIComponent(d.id)}`);
}

const deploymentLink = (id: string): SafeHtml => html`<a href="${safeHref(`/deployments/${encodeURIComponent(id)}`)}">${id}</a>`;

/**
 * A commit's title and author as the deployment recorded them (`Fix the total <small>by Ada</small>`); nothing for a
 * deployment planned without them (an older record, or a lookup that failed).
 */
export function commitTextHtml(d: Pick<DeploymentRecord, 'commit'>): SafeHtml {
  return d.commit ? html`<span class="commit-title">${d.commit.title}</span>${d.commit.author ? html` <small>by ${d.commit.author}</small>` : ''}` : html``;
}

/** The live commit: short SHA linked, its title and author, and the ref; without them, the deployment's description. */
export function liveHtml(f: EnvironmentFacts): SafeHtml {
  const live = f.live;
  if (!live) return html`<span class="muted">nothing deployed yet</span>`;
  const sha = html`<a href="${commitHref(live)}"><code title="${live.sha}">${live.sha.slice(0, 7)}</code></a>`;
  if (live.commit) return html`${sha} ${commitTextHtml(live)}${refOf(live) ? html`<br><small>${refOf(live)}</small>` : ''}`;
  return html`${sha} <small>${refOf(live)}</small><br><small>${live.description}</small>`;
}

export function wentLiveHtml(f: EnvironmentFacts): SafeHtml {
  const live = f.status.live;
  return live ? html`${utc(live.finishedAt)}<br><small>by ${live.createdBy} · ${deploymentLink(live.deploymentId)}</small>` : html``;
}

/** The newest deployment's state: the live one's, or a failure (or run) after it. */
export function stateHtml(f: EnvironmentFacts): SafeHtml {
  const d: DeploymentBrief | undefined = f.status.latest ?? f.status.live;
  if (!d) return html`<span class="muted">—</span>`;
  return html`<span class="state ${d.state}">${d.state}</span>${f.status.latest ? html`<br><small>${deploymentLink(d.deploymentId)}: ${d.description}</small>` : ''}`;
}

export function lockHtml(f: EnvironmentFacts): SafeHtml {
  const lock = f.status.lock;
  return lock ? html`<span class="state failed">locked</span><br><small>${describeLock(lock)}</small>` : html`<span class="muted">unlocked</span>`;
}

/** A rollout in progress, paused at a gate, or one waiting behind it: linked. */
export function rolloutHtml(f: EnvironmentFacts): SafeHtml {
  const { rollout, waiting } = f.status;
  const parts: SafeHtml[] = [];
  if (rollout) {
    const where = `batch ${Math.max(rollout.currentBatch + 1, 1)}/${rollout.batches}`;
    parts.push(
      rollout.gate
        ? html`<span class="state paused-state">paused</span> ${deploymentLink(rollout.deploymentId)} <small>after batch ${rollout.gate.afterBatch + 1}/${rollout.batches}${rollout.gate.until ? ` until ${utc(rollout.gate.until)}` : ', until someone continues it'}</small>`
        : html`<span class="state in_progress">in progress</span> ${deploymentLink(rollout.deploymentId)} <small>${where} · <code>${rollout.sha.slice(0, 7)}</code></small>`,
    );
  }
  if (waiting) parts.push(html`<span class="state queued">waiting</span> ${deploymentLink(waiting.deploymentId)} <small><code>${waiting.sha.slice(0, 7)}</code></small>`);
  return parts.length ? html`${parts.map((p, i) => (i ? html`<br>${p}` : p))}` : html`<span class="muted">none</span>`;
}

export function driftHtml(f: EnvironmentFacts): SafeHtml {
  const d = f.drift;
  if (!d) return html`<span class="muted">—</span>`;
  const title = 'servers whose release in this environment (the newest job that succeeded there) is not the live commit';
  if (!d.servers) return html`<span class="muted" title="${title}">no server has a release here</span>`;
  return d.notOnLive
    ? html`<span class="state failed" title="${title}">${d.notOnLive} of ${d.servers} not on it</span>`
    : html`<span class="state succeeded" title="${title}">all ${d.servers} on it</span>`;
}

export const environmentsHeader = trustedHtml(
  '<tr><th scope="col">environment</th><th scope="col">live commit</th><th scope="col">went live</th><th scope="col">state</th><th scope="col">lock</th><th scope="col">rollout</th><th scope="col">servers</th></tr>',
);

export function environmentRow(f: EnvironmentFacts): SafeHtml {
  const { repository, environment } = f.status;
  return html`<tr><th scope="row"><a href="${environmentPath(repository, environment)}">${repository} <span aria-hidden="true">→</span> ${environment}</a></th>
<td>${liveHtml(f)}</td><td>${wentLiveHtml(f)}</td><td>${stateHtml(f)}</td><td>${lockHtml(f)}</td><td>${rolloutHtml(f)}</td><td>${driftHtml(f)}</td></tr>`;
}

/** The environment page's header facts, as a two-column table. */
export function factsTable(f: EnvironmentFacts): SafeHtml {
  const row = (name: string, value: SafeHtml) => html`<tr><th scope="row">${name}</th><td>${value}</td></tr>`;
  return html`<table class="facts">${[
    row('live commit', liveHtml(f)),
    row('went live', wentLiveHtml(f)),
    row('state', stateHtml(f)),
    row('lock', lockHtml(f)),
    row('rollout', rolloutHtml(f)),
    row('servers', driftHtml(f)),
  ]}</table>`;
}

export function historyTable(deployments: DeploymentRecord[]): SafeHtml {
  if (!deployments.length) return html`<p>No deployment to this environment yet.</p>`;
  return html`<table><tr><th scope="col">deployment</th><th scope="col">commit</th><th scope="col">state</th><th scope="col">description</th><th scope="col">created</th><th scope="col">by</th></tr>
${deployments.map(
  (d) => html`<tr><td>${deploymentLink(d.id)}</td><td><a href="${commitHref(d)}"><code title="${d.sha}">${d.sha.slice(0, 7)}</code></a> <small>${refOf(d)}</small>${d.commit ? html`<br>${commitTextHtml(d)}` : ''}</td>
<td class="state ${d.state}">${d.state}</td><td>${d.description}</td><td>${utc(d.createdAt)}</td><td>${d.createdBy}</td></tr>`,
)}</table>`;
}

/**
 * What each server of a page runs now: its release's commit (marked when it is the live one; none is without a live
 * deployment), the deployment and job
 * it came from, and when. A deployment retention has pruned is named without a link (its page is gone).
 */
export function serversTable(liveSha: string | undefined, releases: Release[]): SafeHtml {
  if (!releases.length) return html`<p>No more servers.</p>`;
  return html`<table><tr><th scope="col">server</th><th scope="col">runs</th><th scope="col">from deployment</th><th scope="col">since</th></tr>
${releases.map((r) => {
  const onLive = r.sha === liveSha;
  const server = r.agentName ? html`<a href="${safeHref(`/agents/${encodeURIComponent(r.agentName)}`)}">${r.agentName}</a>` : html`<code>${r.agentId}</code>`;
  const from = r.deploymentKept
    ? html`<a href="${safeHref(`/deployments/${encodeURIComponent(r.deploymentId)}/servers/${encodeURIComponent(r.jobId)}`)}">${r.deploymentId}</a>`
    : html`${r.deploymentId} <small class="muted">(pruned)</small>`;
  return html`<tr><th scope="row">${server}</th>
<td class="state ${onLive ? 'succeeded' : liveSha ? 'failed' : ''}">${onLive ? 'the live commit' : liveSha ? 'another commit' : 'commit'} <code title="${r.sha}">${r.sha.slice(0, 7)}</code></td>
<td>${from}</td><td>${utc(r.at)}</td></tr>`;
})}</table>`;
}
