/**
 * `bitenvoy lock` and `bitenvoy unlock`: what `/lock` and `/unlock` do on a pull request, through the hub's admin API
 * (`POST /api/v1/environments/lock`, `…/unlock`). A lock refuses every deployment of the environment, naming itself;
 * unlocking lets the automatic deploys it held back go on.
 *
 * @example
 * bitenvoy lock -r acme/shop -e production --reason "db migration" --for 2h
 * bitenvoy unlock -r acme/shop -e production
 */
import type { EnvironmentLock } from '../../app/rollout/environment-locks.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { oneLine } from '../../lib/strip-controls.js';
import { synopsis } from '../command-registry.js';
import { print } from '../output.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseCommand, required } from './parse-options.js';

export async function lockCommand(args: string[]): Promise<number> {
  const { values } = parseCommand('lock', args);
  const body = {
    ...where('lock', values),
    ...(values.reason ? { reason: values.reason } : {}),
    ...(values.for ? { for: values.for } : {}),
    by: byOf(values.by),
  };
  const target = await resolveAdminTarget(values.hub, values.token);
  const answer = await adminRequest<{ lock: EnvironmentLock; message: string }>(target, 'POST', '/environments/lock', body);
  print(`🔒 ${oneLine(answer.message)}`);
  return 0;
}

export async function unlockCommand(args: string[]): Promise<number> {
  const { values } = parseCommand('unlock', args);
  const body = { ...where('unlock', values), by: byOf(values.by) };
  const target = await resolveAdminTarget(values.hub, values.token);
  const answer = await adminRequest<{ released: EnvironmentLock; resumed?: string[] }>(target, 'POST', '/environments/unlock', body);
  const lock = answer.released;
  const resumed = (answer.resumed ?? []).map((e) => `\`${oneLine(e)}\``);
  print(
    `🔓 ${body.environment ? `\`${body.environment}\`` : 'every environment'} of ${body.repository} unlocked (it was locked by @${oneLine(lock.by)}${lock.reason ? `: ${oneLine(lock.reason)}` : ''}).` +
      (resumed.length ? ` Automatic deploys it held back now ship the head of their branch (${resumed.join(', ')}) once its checks pass.` : ''),
  );
  return 0;
}

/** The repository and the environment, or `--global`: one of the two. */
function where(command: 'lock' | 'unlock', values: { repository?: string; environment?: string; global?: boolean }): { repository: string; environment?: string; global?: true } {
  const usage = synopsis(command);
  const repository = required(values.repository, 'repository', usage);
  if (values.global && values.environment) throw new BitEnvoyError('BE_USAGE', `give --environment or --global, not both\nusage: ${usage}`);
  if (values.global) return { repository, global: true };
  return { repository, environment: required(values.environment, 'environment (or --global)', usage) };
}

/** `--by`, else $USER when the hub would take it as a name, else `cli`. */
function byOf(flag: string | undefined): string {
  const name = flag ?? process.env.USER;
  if (flag !== undefined && !/^[\w.@-]{1,64}$/.test(flag)) throw new BitEnvoyError('BE_USAGE', `--by: expected letters, digits, \`.\`, \`@\`, \`-\` (at most 64), got \`${oneLine(flag)}\``);
  return name && /^[\w.@-]{1,64}$/.test(name) ? name : 'cli';
}
