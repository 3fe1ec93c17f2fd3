import type { DeploymentView } from '../../app/rollout/rollout-engine.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseOptions } from './parse-options.js';

const USAGE = 'bitenvoy cancel DEPLOYMENT_ID [--by NAME] [--hub URL] [--token T]';

/** `bitenvoy cancel`: stops a rollout — nothing new starts, running steps get SIGTERM (then SIGKILL), it ends `cancelled`. */
export async function cancelCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions('cancel', args, { hub: { type: 'string' }, token: { type: 'string' }, by: { type: 'string' } }, USAGE, true);
  if (values.help) {
    process.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  const [id, ...extra] = positionals;
  if (!id || extra.length) throw new BitEnvoyError('BE_USAGE', `give one deployment id, e.g. \`bitenvoy cancel dep_1a2b3c4d5e6f\`; usage: ${USAGE}`);
  const target = await resolveAdminTarget(values.hub, values.token);
  const by = values.by ?? process.env.USER ?? 'cli';
  const view = await adminRequest<DeploymentView>(target, 'POST', `/deployments/${encodeURIComponent(id)}/cancel?by=${encodeURIComponent(by)}`);
  const d = view.deployment;
  process.stdout.write(`${d.id}: ${d.state} — ${d.description}\n${target.hub}/deployments/${d.id}\n`);
  return 0;
}
