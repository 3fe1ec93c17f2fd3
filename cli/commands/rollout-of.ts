/**
 * The deployment a `continue` or `cancel` is about: the id given, or — as `/continue production` names only the
 * environment on a pull request — the rollout running in that environment now, found through `GET
 * /api/v1/environments`.
 *
 * The arguments are checked first ({@link rolloutArgs}), before any admin token is looked for: a usage mistake is
 * told as one, wherever the command runs.
 *
 * @example
 * const which = rolloutArgs('continue', positionals, values);
 * const id = await rolloutOf(await resolveAdminTarget(values.hub, values.token), 'continue', which); // 'dep_1a2b3c4d5e6f'
 */
import type { EnvironmentStatus } from '../../app/rollout/environment-status.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { oneLine } from '../../lib/strip-controls.js';
import { synopsis } from '../command-registry.js';
import { adminRequest, type AdminTarget } from './admin-client.js';

/** Which rollout the command names: a deployment id, or a repository's environment. */
export type RolloutArgs = { id: string } | { repository: string; environment: string };

export function rolloutArgs(
  command: 'continue' | 'cancel',
  positionals: string[],
  values: { repository?: string | undefined; environment?: string | undefined },
): RolloutArgs {
  const usage = `give one deployment id, e.g. \`bitenvoy ${command} dep_1a2b3c4d5e6f\`, or --repository and --environment; usage: ${synopsis(command)}`;
  const byName = values.repository !== undefined || values.environment !== undefined;
  if (positionals.length > 1 || (positionals.length === 1) === byName) throw new BitEnvoyError('BE_USAGE', usage);
  if (positionals[0]) return { id: positionals[0] };
  if (!values.repository || !values.environment) throw new BitEnvoyError('BE_USAGE', usage);
  return { repository: values.repository, environment: values.environment };
}

export async function rolloutOf(target: AdminTarget, command: 'continue' | 'cancel', which: RolloutArgs): Promise<string> {
  if ('id' in which) return which.id;
  const values = which;
  const query = new URLSearchParams({ repository: values.repository, environment: values.environment });
  const [status] = (await adminRequest<{ environments: EnvironmentStatus[] }>(target, 'GET', `/environments?${query}`)).environments;
  const rollout = status?.rollout;
  if (!rollout || (command === 'continue' && !rollout.gate)) {
    throw new BitEnvoyError(
      'BE_CONFLICT',
      `no rollout of \`${values.environment}\` is ${command === 'continue' ? 'paused between batches' : 'running'}${rollout ? ` (${oneLine(rollout.deploymentId)} is ${oneLine(rollout.state)}: ${oneLine(rollout.description)})` : ''}; \`bitenvoy status -r ${values.repository}\` shows what runs there`,
    );
  }
  return rollout.deploymentId;
}
