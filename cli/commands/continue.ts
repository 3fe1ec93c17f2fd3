import type { DeploymentSummary } from '../../app/rollout/deployment-view.js';
import { oneLine } from '../../lib/strip-controls.js';
import { print } from '../output.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseCommand } from './parse-options.js';
import { rolloutArgs, rolloutOf } from './rollout-of.js';

/** `bitenvoy continue`: releases a rollout waiting between batches (a `pause: manual` gate, or a timed pause early). */
export async function continueCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand('continue', args);
  const which = rolloutArgs('continue', positionals, values);
  const target = await resolveAdminTarget(values.hub, values.token);
  // A deployment id, or the environment whose paused rollout to continue (as `/continue production` does).
  const id = await rolloutOf(target, 'continue', which);
  const by = values.by ?? process.env.USER ?? 'cli';
  const view = await adminRequest<DeploymentSummary>(target, 'POST', `/deployments/${encodeURIComponent(id)}/continue?by=${encodeURIComponent(by)}`);
  const d = view.deployment;
  print(`${oneLine(d.id)}: ${oneLine(d.state)} — ${oneLine(d.description)}\n${target.hub}/deployments/${encodeURIComponent(d.id)}`);
  return 0;
}
