/**
 * The part of the deployment page that changes while it runs — the facts, the gate banner, counts, timeline,
 * failures and one page of servers with the live servers' log tails — read and rendered in one place, so the page
 * and its live stream (`/deployments/:id/live`) show exactly the same thing. Reads are bounded: the summary, one page
 * of servers, and the tails of at most the first failures and that page's running servers.
 *
 * @example
 * const view = await readLiveView(store, dep, { state: 'failed' });
 * html`<div id="live">${view.html}</div>`;
 */
import { createHash } from 'node:crypto';
import { FINAL_DEPLOYMENT_STATES, type JobState } from '../../lib/protocol.js';
import { readLogTail } from '../jobs/job-logs.js';
import { keys, type AgentRecord, type DeploymentRecord, type JobRecord } from '../model.js';
import { readServerPage, summarizeDeployment, type DeploymentSummary, type ServerRow } from '../rollout/deployment-view.js';
import type { Store } from '../store/store.js';
import { gateHtml } from './deployment-actions-html.js';
import { commitTextHtml } from './environments-html.js';
import { clockTime } from './job-steps.js';
import { html, safeHref, type SafeHtml } from './safe-html.js';
import { countsHtml, failuresHtml, INLINE_TAIL_LINES, LIVE_STATES, PAGE_SERVERS, serverListHtml, timelineHtml } from './servers-html.js';

/** The clock and the job lease, to say which running servers' agents went silent. */
export interface LiveClock {
  now: () => number;
  /** BITENVOY_LEASE_SECONDS: an agent holding a job renews its lease every third of it. */
  leaseMs: number;
}

export const REAL_CLOCK: LiveClock = { now: () => Date.now(), leaseMs: 60_000 };

/** Heartbeats reach the store up to ~7 s late (agent-auth.ts gathers them); a silence shorter than this is not news. */
const HEARTBEAT_WRITE_SLACK_MS = 10_000;

export interface LiveQuery {
  after?: string;
  state?: JobState;
}

export interface LiveView {
  html: SafeHtml;
  /**
   * What decides the buttons (held at a gate, cancel asked, final): when it changes, the page is loaded again so its
   * buttons — which carry the person's own CSRF token and are not part of the shared stream — match.
   */
  actions: string;
  final: boolean;
  /** Servers that failed or were refused, over the whole deployment (what a retry would take). */
  failed: number;
}

export async function readLiveView(store: Store, d: DeploymentRecord, query: LiveQuery, clock: LiveClock = REAL_CLOCK): Promise<LiveView> {
  const [summary, servers] = await Promise.all([
    summarizeDeployment(store, d),
    readServerPage(store, d, { limit: PAGE_SERVERS, ...(query.after ? { after: Number(query.after) } : {}), ...(query.state ? { state: query.state } : {}) }),
  ]);
  // Log tails inline only for the failures and the servers of this page running now; the others are a link away.
  const tails = new Map<string, string[]>();
  const withTail = [...summary.failures, ...servers.servers.filter((s) => LIVE_STATES.includes(s.state))];
  const jobs = await store.getMany<JobRecord>(withTail.map((s) => keys.job(s.jobId)));
  await Promise.all(jobs.map(async (job, i) => job && tails.set(withTail[i]!.jobId, await readLogTail(store, job, INLINE_TAIL_LINES))));
  const running = servers.servers.filter((s) => LIVE_STATES.includes(s.state));
  const silent = await silentAgents(store, running, new Map(jobs.flatMap((job, i) => (job ? [[withTail[i]!.jobId, job] as const] : []))), clock);
  const final = FINAL_DEPLOYMENT_STATES.includes(d.state);
  return {
    html: html`${gateHtml(d)}${factsHtml(d, summary)}
${countsHtml(d.id, summary, query.state)}
${timelineHtml(summary)}
${failuresHtml(d.id, summary, tails)}
${serverListHtml(d.id, servers, tails, query, silent)}`,
    actions: `${d.gate ? 'gate' : ''}|${d.cancelRequested ? 'cancelling' : ''}|${final ? 'final' : ''}`,
    final,
    failed: (summary.counts.failed ?? 0) + (summary.counts.refused ?? 0),
  };
}

/**
 * Running servers whose agent missed a lease renewal (it sends one every third of the lease, each a heartbeat):
 * "agent not heard from since 10:00:05 UTC; the job fails at 10:01:05 UTC unless it is heard from". Shown a renewal
 * interval after the agent's last request (plus the few seconds heartbeats wait to be written, agent-auth.ts) — well
 * within one heartbeat, and before the lease runs out. Reads only these servers' agents (at most a page).
 */
async function silentAgents(store: Store, running: ServerRow[], jobs: ReadonlyMap<string, JobRecord>, clock: LiveClock): Promise<Map<string, string>> {
  const notes = new Map<string, string>();
  if (!running.length) return notes;
  const agents = await store.getMany<AgentRecord>(running.map((s) => keys.agent(s.agentId)));
  const now = clock.now();
  running.forEach((s, i) => {
    const seen = agents[i]?.lastSeenAt;
    if (!seen || now - Date.parse(seen) <= clock.leaseMs / 3 + HEARTBEAT_WRITE_SLACK_MS) return;
    const lease = jobs.get(s.jobId)?.leaseExpiresAt;
    notes.set(s.jobId, `agent not heard from since ${clockTime(seen)}${lease ? `; the job fails at ${clockTime(lease)} unless it is heard from` : ''}`);
  });
  return notes;
}

/** The SSE event id of a view: the same text gives the same id on every replica, so a resume skips what it has. */
export function viewId(view: LiveView): string {
  return createHash('sha256').update(view.actions).update('\0').update(view.html.toString()).digest('base64url').slice(0, 16);
}

/** The deployment's facts: state, the not-seen note, commit and its links, instruction file, config commit, artifacts, times. */
function factsHtml(d: DeploymentRecord, summary: DeploymentSummary): SafeHtml {
  const sd = summary.deployment;
  const planned = sd.batches.map((b) => `batch ${b.index + 1}: ${b.size} server${b.size === 1 ? '' : 's'}`).join(' · ') + (sd.batches.length < sd.batchCount ? ` … (${sd.batchCount} batches)` : '');
  const web = repositoryWebUrl(d);
  return html`<table class="facts">
<tr><th scope="row">state</th><td class="state ${d.state}">${d.state}</td></tr>
<tr><th scope="row">description</th><td>${d.description}</td></tr>
${d.unseen && !FINAL_DEPLOYMENT_STATES.includes(d.state) ? html`<tr><th scope="row">waiting for</th><td class="unseen" role="status">${d.unseen}</td></tr>` : ''}
<tr><th scope="row">commit</th><td>${web ? html`<a href="${safeHref(`${web}/commit/${d.sha}`)}"><code title="${d.sha}">${d.sha.slice(0, 7)}</code></a>` : html`<code title="${d.sha}">${d.sha.slice(0, 7)}</code>`}${d.ref === d.sha ? '' : html` (${d.ref})`}${
    web ? html` · <a href="${safeHref(`${web}/pulls?q=${encodeURIComponent(`is:pr ${d.sha}`)}`)}">pull requests with this commit</a>` : ''
  }${d.commit ? html`<br>${commitTextHtml(d)}` : ''}</td></tr>
${d.github && web ? html`<tr><th scope="row">GitHub deployment</th><td><a href="${safeHref(`${web}/deployments/${encodeURIComponent(d.environment)}`)}">#${d.github.deploymentId}</a> in ${d.github.owner}/${d.github.repo}</td></tr>` : ''}
<tr><th scope="row">group · strategy</th><td>${d.group} · ${d.strategy}${planned ? ` — ${planned}` : ''}</td></tr>
${d.instructions ? html`<tr><th scope="row">instruction file</th><td><code>${d.instructions}</code>${web ? html` (<a href="${safeHref(`${web}/blob/${d.sha}/${d.instructions.split('/').map(encodeURIComponent).join('/')}`)}">at this commit</a>)` : ''}</td></tr>` : ''}
<tr><th scope="row">config commit</th><td><code title="${d.configSha}">${d.configSha.slice(0, 7)}</code></td></tr>
${d.artifacts?.length ? html`<tr><th scope="row">artifacts</th><td>${d.artifacts.map((a, i) => html`${i ? html`<br>` : ''}<strong>${a.name}</strong> (${a.source}): ${a.described ?? ''} <code>${a.sha256 ? `sha256:${a.sha256.slice(0, 12)}…` : (a.oci?.digest.slice(0, 19) ?? '')}</code>`)}</td></tr>` : ''}
<tr><th scope="row">created</th><td>${d.createdAt} by ${d.createdBy}${d.finishedAt ? `; finished ${d.finishedAt}` : ''}</td></tr>
${d.environmentUrl && /^https?:\/\//i.test(d.environmentUrl) ? html`<tr><th scope="row">environment</th><td><a href="${safeHref(d.environmentUrl)}">${d.environmentUrl}</a></td></tr>` : ''}
${sd.skipped.length ? html`<tr><th scope="row">left out</th><td>${sd.skipped.map((s, i) => html`${i ? html`<br>` : ''}${s.name} (${s.reason})`)}${sd.skippedCount > sd.skipped.length ? html`<br>and ${sd.skippedCount - sd.skipped.length} more` : ''}</td></tr>` : ''}
${rollbackRows(d)}
</table>`;
}

/**
 * The repository's web address when it is on GitHub (or GitHub Enterprise): from the GitHub deployment's clone URL,
 * else from the git URL the agents fetch when it is an https URL of a `github.` host.
 */
function repositoryWebUrl(d: DeploymentRecord): string | undefined {
  const clone = d.github?.cloneUrl ?? (d.gitUrl && /^https:\/\/github\./i.test(d.gitUrl) ? d.gitUrl : undefined);
  if (!clone) return undefined;
  try {
    const url = new URL(clone);
    if (url.protocol !== 'https:') return undefined;
    return `https://${url.host}${url.pathname.replace(/\.git$/, '').replace(/\/$/, '')}`;
  } catch {
    return undefined;
  }
}

/** How a deployment and its rollback link to each other: "rolls back dep_…", or "rolled back by dep_…" / why not. */
function rollbackRows(d: DeploymentRecord): SafeHtml {
  const link = (id: string) => html`<a href="${safeHref(`/deployments/${encodeURIComponent(id)}`)}">${id}</a>`;
  const plan = d.autoRollback;
  return html`${d.rollbackOf ? html`<tr><th scope="row">rollback</th><td>brings back <code>${d.sha.slice(0, 7)}</code> after ${link(d.rollbackOf)}</td></tr>` : ''}
${
  plan && 'skipped' in plan
    ? html`<tr><th scope="row">on failure</th><td>not rolled back: ${plan.skipped}</td></tr>`
    : plan?.error
      ? html`<tr><th scope="row">on failure</th><td>the rollback to <code>${plan.sha.slice(0, 7)}</code> could not start: ${plan.error}</td></tr>`
      : plan
        ? html`<tr><th scope="row">on failure</th><td>rolled back by ${link(plan.deploymentId)}: <code>${plan.sha.slice(0, 7)}</code> (from ${link(plan.lastGood)}) to ${plan.agentIds.length} server${plan.agentIds.length === 1 ? '' : 's'}</td></tr>`
        : ''
}`;
}
