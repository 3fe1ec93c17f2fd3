/**
 * What the deployment page shows about acting on the rollout: whether it is held at a gate, the one-time message
 * after a button was pressed, and the buttons themselves (or, when not signed in, the way to sign in).
 */
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import type { DeploymentRecord } from '../model.js';
import { whyNoRetry } from '../audit/retry-failed-servers.js';
import { actorOf, type DashboardSession } from './dashboard-sessions.js';
import { html, safeHref, type SafeHtml } from './safe-html.js';

/** Messages by the `done` query value the buttons redirect with; anything else shows nothing (no text is reflected). */
const DONE: Record<string, string> = {
  continued: 'Rollout continued: the next batch starts now.',
  cancelled: 'Cancel requested: nothing new starts, running steps are stopped, and the deployment ends cancelled.',
  retried: 'This deployment retries the failed servers of the one before: the same commit, only those servers.',
};

/** The banner of a rollout waiting between batches: since when, and until when or whom. */
export function gateHtml(d: DeploymentRecord): SafeHtml {
  if (!d.gate || FINAL_DEPLOYMENT_STATES.includes(d.state)) return html``;
  const after = `after batch ${d.gate.afterBatch + 1}/${d.batches.length}`;
  const until = d.gate.until ? `until ${utc(d.gate.until)}, or until someone continues it` : 'until someone continues it';
  return html`<p class="paused" role="status"><strong>Paused</strong> ${after} since ${utc(d.gate.since)}, ${until}.</p>`;
}

export function doneHtml(done: unknown): SafeHtml {
  return typeof done === 'string' && Object.hasOwn(DONE, done) ? html`<p class="flash" role="status">${DONE[done]}</p>` : html``;
}

/**
 * Continue (only at a gate) and cancel while the rollout is not final; once it ended with failed servers, retry them
 * (retry-failed-servers.ts says when not). A sign-in link instead without a session, and `refusal` (why not, e.g.
 * read-only on GitHub) instead of the buttons for a person who may not act.
 */
export function actionsHtml(d: DeploymentRecord, session: DashboardSession | undefined, refusal?: string, failed = 0): SafeHtml {
  const path = `/deployments/${encodeURIComponent(d.id)}`;
  const final = FINAL_DEPLOYMENT_STATES.includes(d.state);
  const retry = final && whyNoRetry(d, failed) === undefined;
  if (!session) {
    if (final && !retry) return html``;
    return html`<p class="actions"><a href="${safeHref(`/login?next=${encodeURIComponent(path)}`)}">${retry ? 'Sign in to retry the failed servers' : 'Sign in to continue or cancel'}</a></p>`;
  }
  const csrf = html`<input type="hidden" name="csrf" value="${session.csrfToken}">`;
  const forms: SafeHtml[] = [];
  const who = html`<span class="who">Signed in as ${actorOf(session.who)}</span>`;
  if (refusal) {
    forms.push(html`<p class="refused-note">You can view this deployment but not ${final ? 'retry its failed servers' : 'continue or cancel it'}: ${refusal}.</p>`);
  } else if (d.gate && !final) {
    forms.push(html`<form method="post" action="${safeHref(`${path}/continue`)}">${csrf}<button type="submit">Continue rollout</button></form>`);
  }
  if (!refusal && !final && !d.cancelRequested) {
    forms.push(
      html`<form method="post" action="${safeHref(`${path}/cancel`)}" onsubmit="return confirm('Cancel this deployment? Nothing new starts and running steps are stopped.')">${csrf}<button type="submit" class="danger">Cancel deployment</button></form>`,
    );
  }
  if (!refusal && retry) {
    forms.push(html`<form method="post" action="${safeHref(`${path}/retry`)}">${csrf}<button type="submit">Retry the ${failed} failed server${failed === 1 ? '' : 's'}</button></form>`);
  }
  forms.push(who, html`<form method="post" action="/logout">${csrf}<button type="submit" class="quiet">Sign out</button></form>`);
  return html`<div class="actions">${forms}</div>`;
}

function utc(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}
