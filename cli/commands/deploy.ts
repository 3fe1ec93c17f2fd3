import type { DeploymentRecord } from '../../app/model.js';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseOptions, required } from './parse-options.js';

const USAGE = 'bitenvoy deploy --repository OWNER/NAME --ref REF --environment ENV [--hub URL] [--token T] [--no-wait]';

interface DeploymentView {
  deployment: DeploymentRecord;
  jobs: Array<{ agentName?: string; state: string; step?: { name: string; status: string }; message?: string }>;
}

/**
 * `bitenvoy deploy`: asks the hub to deploy a ref, prints the status page URL, then follows the deployment until it
 * ends. Exit 0 only on `success`.
 */
export async function deployCommand(args: string[]): Promise<number> {
  const { values } = parseOptions(
    'deploy',
    args,
    {
      repository: { type: 'string', short: 'r' },
      ref: { type: 'string' },
      environment: { type: 'string', short: 'e' },
      hub: { type: 'string' },
      token: { type: 'string' },
      'no-wait': { type: 'boolean' },
    },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  const request = {
    repository: required(values.repository, 'repository', USAGE),
    ref: required(values.ref, 'ref', USAGE),
    environment: required(values.environment, 'environment', USAGE),
  };
  const target = await resolveAdminTarget(values.hub, values.token);
  const created = await adminRequest<{ deployment: DeploymentRecord; url: string }>(target, 'POST', '/deployments', request);
  const d = created.deployment;
  process.stdout.write(`deployment ${d.id}: ${d.repository}@${d.sha.slice(0, 7)} (${d.ref}) → ${d.environment}\n${created.url}\n`);
  if (values['no-wait']) return 0;
  const final = await follow(target, d.id);
  return final.state === 'success' ? 0 : 1;
}

/** Polls the deployment, printing each change, until it reaches a final state. */
export async function follow(target: Awaited<ReturnType<typeof resolveAdminTarget>>, id: string): Promise<DeploymentRecord> {
  let last = '';
  for (;;) {
    const view = await adminRequest<DeploymentView>(target, 'GET', `/deployments/${encodeURIComponent(id)}`);
    const line = `${view.deployment.state}: ${view.deployment.description}`;
    const servers = view.jobs
      .map((j) => `  ${j.agentName ?? '?'}: ${j.state}${j.step ? ` (step ${j.step.name} ${j.step.status})` : ''}${j.message ? ` — ${j.message}` : ''}`)
      .join('\n');
    const snapshot = `${line}\n${servers}`;
    if (snapshot !== last) process.stdout.write(`${snapshot}\n`);
    last = snapshot;
    if (FINAL_DEPLOYMENT_STATES.includes(view.deployment.state)) return view.deployment;
    await new Promise((r) => setTimeout(r, 250));
  }
}
