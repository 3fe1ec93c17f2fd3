import type { DeploymentRecord } from '../../app/model.js';
import type { DeploymentSummary } from '../../app/rollout/deployment-view.js';
import { JOB_STATES } from '../../lib/protocol.js';
import { oneLine } from '../../lib/strip-controls.js';
import { print } from '../output.js';
import { synopsis } from '../command-registry.js';
import { adminRequest, resolveAdminTarget, type AdminTarget } from './admin-client.js';
import { checkSummary, followStream, isFinalSummary } from './follow-stream.js';
import { parseCommand, required } from './parse-options.js';

/**
 * `bitenvoy deploy`: asks the hub to deploy a ref, prints the status page URL, then follows the deployment's summary
 * until it ends. Exit 0 only on `success`.
 */
export async function deployCommand(args: string[]): Promise<number> {
  const { values } = parseCommand('deploy', args);
  const usage = synopsis('deploy');
  const request = {
    repository: required(values.repository, 'repository', usage),
    ref: required(values.ref, 'ref', usage),
    environment: required(values.environment, 'environment', usage),
  };
  const target = await resolveAdminTarget(values.hub, values.token);
  const created = await adminRequest<{ deployment: DeploymentRecord; url: string } | Queued>(target, 'POST', '/deployments', request);
  let id: string;
  if ('queued' in created) {
    // 202: GitHub did not take the deployment at once; the hub creates it (and starts the rollout) when GitHub answers.
    id = created.deploymentId;
    print(`deployment ${oneLine(id)} is queued: ${oneLine(created.message)}\n${oneLine(created.url)}`);
    if (values['no-wait']) return 0;
    await untilItExists(target, id);
  } else {
    const d = created.deployment;
    id = d.id;
    print(`deployment ${oneLine(d.id)}: ${oneLine(d.repository)}@${oneLine(d.sha.slice(0, 7))} (${oneLine(d.ref)}) → ${oneLine(d.environment)}\n${oneLine(created.url)}`);
    if (values['no-wait']) return 0;
  }
  const final = await follow(target, id);
  return final.state === 'success' ? 0 : 1;
}

/** The hub's 202 answer to a deployment whose GitHub Deployment is queued (see app/api/admin-routes.ts). */
interface Queued {
  queued: true;
  deploymentId: string;
  message: string;
  url: string;
}

/** How often a queued deployment is looked for. */
const QUEUED_INTERVAL_MS = 2000;

/** Waits until the hub has the queued deployment's rollout (404 until GitHub created the deployment). */
export async function untilItExists(target: AdminTarget, id: string): Promise<void> {
  for (;;) {
    try {
      await adminRequest<DeploymentSummary>(target, 'GET', `/deployments/${encodeURIComponent(id)}`);
      return;
    } catch (err) {
      if ((err as { status?: number }).status !== 404) throw err;
    }
    await new Promise((r) => setTimeout(r, QUEUED_INTERVAL_MS));
  }
}

/** How often the deployment's summary is asked for while following it by polling: on a hub without the event stream… */
const FOLLOW_INTERVAL_MS = 250;
/** …and on a hub whose streams are all taken (polling fast would cost it more than the stream it refused). */
const BUSY_FOLLOW_INTERVAL_MS = 2000;

/**
 * Follows the deployment until it reaches a final state, through the hub's event stream (a new summary only when
 * something changed), or by polling its summary on a hub without one. Either way the summary's size does not grow with
 * the number of servers. Prints the state and description when they change, a progress line when the counts by state
 * change, and one line per failed or refused server (the first 20 the hub lists) — never a line per server that went
 * well.
 *
 * @example
 * const final = await follow(target, 'dep_1a2b'); // prints "in_progress: 3/10 servers · batch 1/2" …
 */
export async function follow(target: AdminTarget, id: string): Promise<DeploymentSummary['deployment']> {
  const show = summaryPrinter();
  let final: DeploymentSummary['deployment'] | undefined;
  const onSummary = (summary: DeploymentSummary) => (final = show(summary)) !== undefined;
  const outcome = await followStream(target, id, onSummary);
  if (outcome === 'final') return final!;
  for (;;) {
    const summary = await adminRequest<unknown>(target, 'GET', `/deployments/${encodeURIComponent(id)}`);
    if (onSummary(checkSummary(summary, target.hub))) return final!;
    await new Promise((r) => setTimeout(r, outcome === 'busy' ? BUSY_FOLLOW_INTERVAL_MS : FOLLOW_INTERVAL_MS));
  }
}

/**
 * Prints what changed since the summary it was last given; returns the deployment once it is final (after a line
 * pointing to the failures it could not list).
 */
function summaryPrinter(): (summary: DeploymentSummary) => DeploymentSummary['deployment'] | undefined {
  let lastHead = '';
  let lastProgress = '';
  const failuresShown = new Set<string>();
  return (summary) => {
    // Every field is the hub's (the messages the agents'): one line each, no control characters.
    const head = `${text(summary.deployment.state)}: ${text(summary.deployment.description)}`;
    if (head !== lastHead) print(head);
    lastHead = head;
    const progress = progressLine(summary);
    if (progress !== lastProgress) print(progress);
    lastProgress = progress;
    for (const f of summary.failures ?? []) {
      if (failuresShown.has(f.jobId)) continue;
      failuresShown.add(f.jobId);
      print(`  ${text(f.agentName)}: ${text(f.state)}${f.step ? ` (step ${text(f.step.name)} ${text(f.step.status)})` : ''}${f.message ? ` — ${text(f.message)}` : ''}`);
    }
    if (!isFinalSummary(summary)) return undefined;
    const failed = (Number(summary.counts?.failed) || 0) + (Number(summary.counts?.refused) || 0);
    if (failed > failuresShown.size) print(`  … ${failed - failuresShown.size} more failed or refused: see the status page`);
    return summary.deployment;
  };
}

/** A value of the hub's on one line of ours, whatever its type. */
function text(value: unknown): string {
  return oneLine(String(value ?? ''));
}

/** "  servers: 10 planned · succeeded 3 · running 2" (states in their lifecycle order). */
function progressLine(summary: DeploymentSummary): string {
  const counts = JOB_STATES.filter((s) => summary.counts?.[s]).map((s) => `${s} ${text(summary.counts[s])}`);
  return `  servers: ${Number(summary.servers) || 0} planned${counts.length ? ` · ${counts.join(' · ')}` : ''}`;
}
