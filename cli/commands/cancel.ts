import type { DeploymentSummary } from '../../app/rollout/deployment-view.js';
import { oneLine } from '../../lib/strip-controls.js';
import { print } from '../output.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseCommand } from './parse-options.js';
import { rolloutArgs, rolloutOf } from './rollout-of.js';

/** `bitenvoy cancel`: stops a rollout — nothing new starts, running steps get SIGTERM (then SIGKILL), it ends `cancelled`. */
export async function cancelCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand('cancel', args);
  const which = rolloutArgs('cancel', positionals, values);
  const target = await resolveAdminTarget(values.hub, values.token);
  // A deployment id, or the environment whose running rollout to stop.
  const id = await rolloutOf(target, 'cancel', which);
  const by = values.by ?? process.env.USER ?? 'cli';
  const view = await adminRequest<DeploymentSummary>(target, 'POST', `/deployments/${encodeURIComponent(id)}/cancel?by=${encodeURIComponent(by)}`);
  const d = view.deployment;
  print(`${oneLine(d.id)}: ${oneLine(d.state)} — ${oneLine(d.description)}\n${target.hub}/deployments/${encodeURIComponent(d.id)}`);
  return 0;
}
