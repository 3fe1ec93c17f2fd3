import type { DeploymentSummary } from '../../app/rollout/deployment-view.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { oneLine } from '../../lib/strip-controls.js';
import { print } from '../output.js';
import { synopsis } from '../command-registry.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseCommand } from './parse-options.js';

/** `bitenvoy continue`: releases a rollout waiting between batches (a `pause: manual` gate, or a timed pause early). */
export async function continueCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand('continue', args);
  const [id, ...extra] = positionals;
  if (!id || extra.length) throw new BitEnvoyError('BE_USAGE', `give one deployment id, e.g. \`bitenvoy continue dep_1a2b3c4d5e6f\`; usage: ${synopsis('continue')}`);
  const target = await resolveAdminTarget(values.hub, values.token);
  const view = await adminRequest<DeploymentSummary>(target, 'POST', `/deployments/${encodeURIComponent(id)}/continue`);
  const d = view.deployment;
  print(`${oneLine(d.id)}: ${oneLine(d.state)} — ${oneLine(d.description)}\n${target.hub}/deployments/${encodeURIComponent(d.id)}`);
  return 0;
}
