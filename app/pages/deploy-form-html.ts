/**
 * The deploy page's markup (deploy-form-routes.ts reads what it shows): the lock and its form, the plan of the chosen
 * candidate with everything that blocks it and the confirm button (for one of the `forceUsers`, past checks that are
 * not green: "Deploy anyway (forced)" behind a box naming them), promotion from the previous environment, the
 * branch's recent commits and earlier successful deployments with their checks. Every value is escaped by `html`;
 * forms carry the session's CSRF token; a person who may not act sees why instead of the buttons.
 *
 * @example
 * ctx.body = page(`Deploy ${view.environment}`, deployPageHtml(view).toString());
 */
import type { DeploymentRecord } from '../model.js';
import type { HubMode } from '../rollout/action-hints.js';
import { actorOf, type DashboardSession } from './dashboard-sessions.js';
import type { Candidate, CandidateChecks } from './deploy-form-candidates.js';
import type { ChecksHold } from './deploy-form-force.js';
import { html, safeHref, trustedHtml, type SafeHtml } from './safe-html.js';

/** Server names shown per batch; the rest are counted, so a 10,000-server plan stays a small page. */
export const PLAN_NAMES_SHOWN = 20;

export interface PlanView {
  sha: string;
  checks: CandidateChecks;
  /** Everything that would refuse it now but its checks; empty when nothing does. */
  blockers: string[];
  /** Its checks are not green: what that means for the person looking (one of `forceUsers` may deploy it anyway). */
  hold?: ChecksHold;
  /** Set for a rollback: the earlier successful deployment it brings back. */
  rollbackTo?: DeploymentRecord;
  /** The engine's plan (absent when it could not be made: the reason is among the blockers). */
  preview?: DeploymentRecord;
  names?: Map<string, string>;
}

export interface DeployPageView {
  repository: string;
  environment: string;
  branch: string;
  /** This page's path. */
  path: string;
  mode: HubMode;
  after?: string;
  /** What runs on `after` now: the commit a promotion deploys. */
  promoteFrom?: DeploymentRecord;
  /** describeLock of the lock in force. */
  lock?: string;
  current?: DeploymentRecord;
  page: number;
  commits: { commits: Candidate[]; more: boolean; checks: CandidateChecks[]; problem?: string };
  earlier: Array<{ deployment: DeploymentRecord; checks: CandidateChecks }>;
  plan?: PlanView;
  session?: DashboardSession;
  /** Why the signed-in person may not act here. */
  refusal?: string;
  done?: string;
}

const DONE: Record<string, string> = {
  locked: 'Locked: every deployment to this environment is refused until it is unlocked.',
  unlocked: 'Unlocked: deployments to this environment go ahead again.',
};

const STYLE = trustedHtml(`<style>
.deploy-form .checks-green{color:#137333}.deploy-form .checks-red{color:#b3261e}.deploy-form .checks-pending,.deploy-form .checks-none{color:#555}
.deploy-form form.inline{display:inline;margin:0}.deploy-form .lock{background:#fef7e0;border-left:4px solid #8a5a00;padding:.5rem .8rem}
.deploy-form label{font-weight:600;margin-right:.4rem}.deploy-form input[type=text]{font:inherit;padding:.3rem;width:min(28rem,100%)}
.deploy-form .sr{position:absolute;left:-9999px}.deploy-form .force{border-left:4px solid #b3261e;padding:.2rem .8rem}.deploy-form .force label{font-weight:400}.deploy-form .plan{border:1px solid #e3e6ea;border-radius:6px;padding:.2rem 1rem 1rem;margin:1rem 0}
</style>`);

export function deployPageHtml(v: DeployPageView): SafeHtml {
  const environmentPage = v.path.replace(/\/deploy$/, '');
  return html`${STYLE}<div class="deploy-form">
<h1>Deploy <code>${v.environment}</code> of ${v.repository}</h1>
<p><a href="${safeHref(environmentPage)}">Environment page</a> · follows branch <code>${v.branch}</code> · live now: ${v.current ? html`<a href="${safeHref(`/deployments/${encodeURIComponent(v.current.id)}`)}"><code>${v.current.sha.slice(0, 7)}</code></a>` : 'nothing yet'}</p>
${v.done && Object.hasOwn(DONE, v.done) ? html`<p class="flash" role="status">${DONE[v.done]}</p>` : ''}
${whoHtml(v)}
${lockHtml(v)}
${v.plan ? planHtml(v, v.plan) : ''}
${promoteHtml(v)}
${commitsHtml(v)}
${earlierHtml(v)}
</div>`;
}

function csrf(v: DeployPageView): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${v.session?.csrfToken ?? ''}">`;
}

/** May the viewer press the buttons? (The server decides again at each post.) */
function mayAct(v: DeployPageView): boolean {
  return v.session !== undefined && v.refusal === undefined;
}

function whoHtml(v: DeployPageView): SafeHtml {
  if (!v.session) return html`<p class="actions"><a href="${safeHref(`/login?next=${encodeURIComponent(v.path)}`)}">Sign in to deploy, roll back or lock</a></p>`;
  return html`<p>Signed in as ${actorOf(v.session.who)}.${v.refusal ? html` <span class="refused-note">You can view this environment but not deploy, roll back or lock it: ${v.refusal}.</span>` : ''}</p>`;
}

function lockHtml(v: DeployPageView): SafeHtml {
  if (v.lock) {
    return html`<section aria-labelledby="lock-title"><h2 id="lock-title">Lock</h2><p class="lock" role="status">${v.lock}.</p>
${mayAct(v) ? html`<form method="post" action="${safeHref(v.path.replace(/\/deploy$/, '/unlock'))}">${csrf(v)}<button type="submit">Unlock</button></form>` : ''}</section>`;
  }
  if (!mayAct(v)) return html``;
  return html`<section aria-labelledby="lock-title"><h2 id="lock-title">Lock</h2>
<form method="post" action="${safeHref(v.path.replace(/\/deploy$/, '/lock'))}" class="actions">${csrf(v)}<label for="lock-reason">Reason</label><input type="text" id="lock-reason" name="reason" required maxlength="200" placeholder="db migration"><button type="submit" class="danger">Lock ${v.environment}</button></form></section>`;
}

function checksHtml(c: CandidateChecks): SafeHtml {
  return html`<span class="checks-${c.verdict}"><strong>${c.verdict === 'none' ? 'no checks' : c.verdict}</strong>${c.verdict === 'none' ? '' : html`: ${c.description}`}</span>`;
}

function reviewForm(v: DeployPageView, sha: string, rollback: boolean): SafeHtml {
  const label = `${rollback ? 'Review rollback' : 'Review plan'} for ${sha.slice(0, 7)}`;
  return html`<form method="get" action="${safeHref(v.path)}" class="inline"><input type="hidden" name="sha" value="${sha}">${rollback ? html`<input type="hidden" name="rollback" value="1">` : ''}<button type="submit" aria-label="${label}">${rollback ? 'Review rollback' : 'Review plan'}</button></form>`;
}

function planHtml(v: DeployPageView, p: PlanView): SafeHtml {
  const short = p.sha.slice(0, 7);
  const d = p.preview;
  const servers = d ? d.batches.reduce((n, b) => n + b.agentIds.length, 0) : 0;
  const blocked = p.hold ? [...p.blockers, p.hold.refusal] : p.blockers;
  const title = p.rollbackTo ? html`Plan: roll <code>${v.environment}</code> back to <code>${short}</code>` : html`Plan: deploy <code>${short}</code> to <code>${v.environment}</code>`;
  return html`<section class="plan" aria-labelledby="plan-title"><h2 id="plan-title">${title}</h2>
<p>Commit <code>${p.sha}</code> · checks: ${checksHtml(p.checks)}</p>
${d ? html`<p>Group <code>${d.group}</code>, strategy <code>${d.strategy}</code>${p.rollbackTo ? ' (as a rollback: no pauses)' : ''}: ${servers} server${servers === 1 ? '' : 's'} today${d.skipped.length ? html`, ${d.skipped.length} skipped (${d.skipped.slice(0, PLAN_NAMES_SHOWN).map((s) => `${s.name}: ${s.reason}`).join('; ')})` : ''}.</p>
${d.batches.length ? html`<table><thead><tr><th scope="col">Batch</th><th scope="col">Servers</th><th scope="col">Then</th></tr></thead><tbody>${d.batches.map(
  (b, i) => html`<tr><th scope="row">${i + 1}/${d.batches.length}</th><td>${b.agentIds.slice(0, PLAN_NAMES_SHOWN).map((id) => p.names?.get(id) ?? id).join(', ')}${b.agentIds.length > PLAN_NAMES_SHOWN ? ` and ${b.agentIds.length - PLAN_NAMES_SHOWN} more` : ''}</td><td>${pauseText(b.pauseAfter, i === d.batches.length - 1)}</td></tr>`,
)}</tbody></table>` : ''}` : ''}
${d?.artifacts?.length ? html`<p>Artifacts, pinned now for every server: ${d.artifacts.map((a, i) => html`${i ? '; ' : ''}<code>${a.name}</code> — ${a.described ?? a.source}`)}.</p>` : ''}
${blocked.length ? html`<div class="error" role="alert"><p><strong>Blocked:</strong></p><ul>${blocked.map((b) => html`<li>${b}</li>`)}</ul></div>` : html`<p class="flash" role="status">Nothing blocks it.</p>`}
${confirmHtml(v, p)}</section>`;
}

function confirmHtml(v: DeployPageView, p: PlanView): SafeHtml {
  if (p.blockers.length || !v.session) return html``;
  if (!mayAct(v)) return html``;
  const short = p.sha.slice(0, 7);
  if (p.hold) return p.hold.mayForce ? forceHtml(v, p, p.hold) : html``;
  if (p.rollbackTo) {
    return html`<form method="post" action="${safeHref(v.path.replace(/\/deploy$/, '/rollback'))}">${csrf(v)}<input type="hidden" name="to" value="${p.rollbackTo.id}"><button type="submit" class="danger">Roll back to ${short}</button></form>`;
  }
  return html`<form method="post" action="${safeHref(v.path)}">${csrf(v)}<input type="hidden" name="sha" value="${p.sha}"><button type="submit">Deploy ${short} to ${v.environment}</button></form>`;
}

/** "Deploy anyway (forced)": a plain post, sent only once the box naming the checks is ticked (by the browser and the hub). */
function forceHtml(v: DeployPageView, p: PlanView, hold: ChecksHold): SafeHtml {
  const short = p.sha.slice(0, 7);
  return html`<form method="post" action="${safeHref(v.path)}" class="force">${csrf(v)}<input type="hidden" name="sha" value="${p.sha}"><input type="hidden" name="force" value="1">
<p>You are one of the <code>forceUsers</code> of <code>${v.environment}</code>: you may deploy <code>${short}</code> although its checks are not green. The deployment says it was forced, in GitHub too, and the audit log names you.</p>
<p><input type="checkbox" id="force-confirm" name="confirm" value="${p.sha}" required> <label for="force-confirm">Deploy <code>${short}</code> to <code>${v.environment}</code> anyway, past its checks: ${hold.checks}</label></p>
<button type="submit" class="danger">Deploy anyway (forced)</button></form>`;
}

function pauseText(pause: number | 'manual' | undefined, last: boolean): string {
  if (last) return 'done';
  if (pause === 'manual') return 'waits until someone continues it';
  if (pause !== undefined) return `pauses ${Math.round(pause / 1000)} s`;
  return 'next batch';
}

function promoteHtml(v: DeployPageView): SafeHtml {
  if (!v.after) return html``;
  return html`<section aria-labelledby="promote-title"><h2 id="promote-title">Promote from <code>${v.after}</code></h2>
<p><code>${v.environment}</code> takes only commits live on <code>${v.after}</code> first. ${v.promoteFrom ? html`<code>${v.after}</code> runs <code>${v.promoteFrom.sha.slice(0, 7)}</code> now. ${reviewForm(v, v.promoteFrom.sha, false)}` : html`Nothing is live on <code>${v.after}</code> yet.`}</p></section>`;
}

function commitsHtml(v: DeployPageView): SafeHtml {
  const { commits, checks, more, problem } = v.commits;
  const nav = [v.page > 1 ? html`<a href="${safeHref(`${v.path}?page=${v.page - 1}`)}">Newer commits</a>` : '', more ? html`<a href="${safeHref(`${v.path}?page=${v.page + 1}`)}">Older commits</a>` : ''].filter(Boolean);
  return html`<section aria-labelledby="commits-title"><h2 id="commits-title">Recent commits on <code>${v.branch}</code></h2>
${problem ? html`<p class="error">${problem}</p>` : ''}
${v.mode === 'local' ? html`<p>No checks in local mode: nothing reports checks to the hub without GitHub.</p>` : ''}
${commits.length ? html`<table><thead><tr><th scope="col">Commit</th><th scope="col">Message</th><th scope="col">Author</th><th scope="col">Checks</th><th scope="col"><span class="sr">Action</span></th></tr></thead><tbody>${commits.map(
  (c, i) => html`<tr><td><code>${c.sha.slice(0, 7)}</code></td><td>${c.title}</td><td>${c.author}${c.at ? html`<br><small>${c.at}</small>` : ''}</td><td>${checksHtml(checks[i]!)}</td><td>${reviewForm(v, c.sha, false)}</td></tr>`,
)}</tbody></table>` : problem ? '' : html`<p>No commits.</p>`}
${nav.length ? html`<p>${nav.map((a, i) => html`${i ? ' · ' : ''}${a}`)}</p>` : ''}</section>`;
}

function earlierHtml(v: DeployPageView): SafeHtml {
  return html`<section aria-labelledby="earlier-title"><h2 id="earlier-title">Earlier successful deployments</h2>
${v.earlier.length ? html`<table><thead><tr><th scope="col">Deployment</th><th scope="col">Commit</th><th scope="col">Finished</th><th scope="col">Checks</th><th scope="col"><span class="sr">Actions</span></th></tr></thead><tbody>${v.earlier.map(
  ({ deployment: d, checks }) => html`<tr><td><a href="${safeHref(`/deployments/${encodeURIComponent(d.id)}`)}">${d.id}</a>${v.current?.id === d.id ? ' (live now)' : ''}</td><td><code>${d.sha.slice(0, 7)}</code>${d.ref === d.sha ? '' : html` ${d.ref}`}</td><td>${d.finishedAt ?? ''}</td><td>${checksHtml(checks)}</td><td>${reviewForm(v, d.sha, false)}${v.current && v.current.sha !== d.sha ? html` ${reviewForm(v, d.sha, true)}` : ''}</td></tr>`,
)}</tbody></table>` : html`<p>None yet: nothing has succeeded on <code>${v.environment}</code>.</p>`}</section>`;
}
