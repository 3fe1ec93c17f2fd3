/**
 * The agent as a launchd daemon on macOS: the plan to install and uninstall it, and its controls for an upgrade.
 * The property list goes to BITENVOY_LAUNCHD_DIR (default /Library/LaunchDaemons). macOS has no `useradd`: the
 * agent's user must exist already (the error says how to make one).
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { BitEnvoyError } from '../../lib/errors.js';
import { renderLaunchdPlist } from './render-launchd-plist.js';
import { mustRun, runCommand } from './run-command.js';
import { SERVICE_NAMES, type ServiceSpec } from './service-spec.js';
import type { ServiceControl, ServicePlan } from './service-plan.js';

const TARGET = `system/${SERVICE_NAMES.launchd}`;

/** Where the property list goes. */
export function launchdPlistPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.BITENVOY_LAUNCHD_DIR || '/Library/LaunchDaemons', `${SERVICE_NAMES.launchd}.plist`);
}

/**
 * Gives the agent directory to the (existing) user, writes the property list and loads it (`launchctl bootstrap`).
 *
 * @example
 * await applyPlan(await planLaunchdInstall(spec));
 */
export async function planLaunchdInstall(spec: ServiceSpec, env: NodeJS.ProcessEnv = process.env): Promise<ServicePlan> {
  if ((await runCommand(['id', '-u', spec.user])).code !== 0) {
    throw new BitEnvoyError(
      'BE_SERVICE',
      `the user ${spec.user} does not exist; on macOS create it first, e.g. \`sysadminctl -addUser ${spec.user} -home ${spec.dir} -shell /usr/bin/false\`, then run \`bitenvoy agent install\` again (or name an existing user with --user)`,
    );
  }
  const plist = launchdPlistPath(env);
  return {
    actions: [
      { kind: 'run', argv: ['chown', '-R', `${spec.user}:`, spec.dir], purpose: `give ${spec.dir} to ${spec.user}` },
      { kind: 'write', path: plist, text: renderLaunchdPlist(spec), mode: 0o644 },
      { kind: 'run', argv: ['launchctl', 'bootstrap', 'system', plist], purpose: `load ${plist}` },
    ],
    notes: [`its log is ${spec.dir}/agent.log; launchd has no read-only file system setting: --writable is not enforced on macOS, the user's permissions are the limit`],
  };
}

/**
 * Unloads the daemon and removes its property list; the agent directory and the user stay.
 *
 * @example
 * await applyPlan(await planLaunchdUninstall());
 */
export async function planLaunchdUninstall(env: NodeJS.ProcessEnv = process.env): Promise<ServicePlan> {
  const plist = launchdPlistPath(env);
  if (!existsSync(plist)) throw new BitEnvoyError('BE_SERVICE', `${plist} does not exist: the agent is not installed as a service here, nothing to uninstall`);
  return {
    actions: [
      { kind: 'run', argv: ['launchctl', 'bootout', TARGET], purpose: `stop and unload ${TARGET}` },
      { kind: 'remove', path: plist },
    ],
    notes: ['kept the agent directory (the enrollment, agent.yml, releases) and its user; remove them yourself if you no longer need them'],
  };
}

/** `launchctl kickstart -k` and `launchctl print` on the agent's daemon. */
export const launchdControl: ServiceControl = {
  describe: `launchctl kickstart -k ${TARGET}`,
  async restart() {
    await mustRun(['launchctl', 'kickstart', '-k', TARGET], `restart ${TARGET}`);
  },
  async isRunning() {
    const printed = await runCommand(['launchctl', 'print', TARGET]);
    return printed.code === 0 && /^\s*state = running$/m.test(printed.stdout);
  },
};
