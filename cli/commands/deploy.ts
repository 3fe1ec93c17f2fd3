import type { DeploymentRecord } from '../../app/model.js';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { oneLine } from '../../lib/strip-controls.js';
import { print } from '../output.js';
import { synopsis } from '../command-registry.js';
import { adminRequest, resolveAdminTarget, type AdminTarget } from './admin-client.js';
import { parseCommand, required } from './parse-options.js';

interface DeploymentView {
  deployment: DeploymentRecord;
  jobs: Array<{ agentName?: string; state: string; step?: { name: string; status: string }; message?: string }>;
}

/**
 * `bitenvoy deploy`: asks the hub to deploy a ref, prints the status page URL, then follows the deployment until it
 * ends. Exit 0 only on `success`.
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
  const created = await adminRequest<{ deployment: DeploymentRecord; url: string }>(target, 'POST', '/deployments', request);
  const d = created.deployment;
  print(`deployment ${oneLine(d.id)}: ${oneLine(d.repository)}@${oneLine(d.sha.slice(0, 7))} (${oneLine(d.ref)}) → ${oneLine(d.environment)}\n${oneLine(created.url)}`);
  if (values['no-wait']) return 0;
  const final = await follow(target, d.id);
  return final.state === 'success' ? 0 : 1;
}

/** Polls the deployment, printing each change, until it reaches a final state. */
export async function follow(target: AdminTarget, id: string): Promise<DeploymentRecord> {
  let last = '';
  for (;;) {
    const view = await adminRequest<DeploymentView>(target, 'GET', `/deployments/${encodeURIComponent(id)}`);
    // Every field is the hub's (the messages the agents'): one line each, no control characters.
    const line = `${oneLine(view.deployment.state)}: ${oneLine(view.deployment.description)}`;
    const servers = view.jobs
      .map((j) => `  ${oneLine(j.agentName ?? '?')}: ${oneLine(j.state)}${j.step ? ` (step ${oneLine(j.step.name)} ${oneLine(j.step.status)})` : ''}${j.message ? ` — ${oneLine(j.message)}` : ''}`)
      .join('\n');
    const snapshot = `${line}\n${servers}`;
    if (snapshot !== last) print(snapshot);
    last = snapshot;
    if (FINAL_DEPLOYMENT_STATES.includes(view.deployment.state)) return view.deployment;
    await new Promise((r) => setTimeout(r, 250));
  }
}
