/**
 * The agent as a systemd service on Linux: the plan to install and uninstall it, and its controls for an upgrade.
 * The unit goes to BITENVOY_SYSTEMD_DIR (default /etc/systemd/system). Where systemd is not running (a container),
 * the unit is written and the owner is told how to start it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';
import { renderSystemdUnit } from './render-systemd-unit.js';
import { mustRun, runCommand } from './run-command.js';
import { SERVICE_NAMES, type ServiceSpec } from './service-spec.js';
import type { ServiceControl, ServicePlan } from './service-plan.js';

const UNIT = SERVICE_NAMES.systemd;

/** Where the unit file goes. */
export function systemdUnitPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.BITENVOY_SYSTEMD_DIR || '/etc/systemd/system', UNIT);
}

/** True when systemd is the init system here (what `sd_booted()` checks). */
export function systemdRunning(): boolean {
  return existsSync('/run/systemd/system');
}

/**
 * Creates the user when missing, gives it the agent directory, writes the unit, then reloads systemd and enables and
 * starts the service (or says how, where systemd is not running).
 *
 * @example
 * await applyPlan(await planSystemdInstall(spec));
 */
export async function planSystemdInstall(spec: ServiceSpec, env: NodeJS.ProcessEnv = process.env): Promise<ServicePlan> {
  const plan: ServicePlan = { actions: [], notes: [] };
  if ((await runCommand(['id', '-u', spec.user])).code !== 0) {
    plan.actions.push({ kind: 'run', argv: ['useradd', '--system', '--user-group', '--home-dir', spec.dir, '--shell', '/usr/sbin/nologin', spec.user], purpose: `create the user ${spec.user}` });
  }
  plan.actions.push({ kind: 'run', argv: ['chown', '-R', `${spec.user}:`, spec.dir], purpose: `give ${spec.dir} to ${spec.user}` });
  const unit = systemdUnitPath(env);
  plan.actions.push({ kind: 'write', path: unit, text: renderSystemdUnit(spec), mode: 0o644 });
  if (systemdRunning()) {
    plan.actions.push({ kind: 'run', argv: ['systemctl', 'daemon-reload'], purpose: 'reload systemd' });
    plan.actions.push({ kind: 'run', argv: ['systemctl', 'enable', '--now', UNIT], purpose: `enable and start ${UNIT}` });
    plan.notes.push(`follow its log with: journalctl -u ${UNIT} -f`);
  } else {
    plan.notes.push(`systemd is not running on this machine (it is not process 1, as in a container): ${unit} is written but could not be started; where systemd runs, start it with: systemctl daemon-reload && systemctl enable --now ${UNIT}`);
  }
  return plan;
}

/**
 * Stops and disables the service and removes its unit; the agent directory and the user stay (the notes say so).
 * Throws BE_SERVICE when there is no unit to remove.
 *
 * @example
 * await applyPlan(await planSystemdUninstall());
 */
export async function planSystemdUninstall(env: NodeJS.ProcessEnv = process.env): Promise<ServicePlan> {
  const unit = systemdUnitPath(env);
  const text = await readFile(unit, 'utf8').catch(() => {
    throw new BitEnvoyError('BE_SERVICE', `${unit} does not exist: the agent is not installed as a service here, nothing to uninstall (BITENVOY_SYSTEMD_DIR names another folder for the unit)`);
  });
  const user = /^User=(.+)$/m.exec(text)?.[1] ?? 'the agent user';
  const dir = /^WorkingDirectory=(.+)$/m.exec(text)?.[1] ?? 'the agent directory';
  const running = systemdRunning();
  const plan: ServicePlan = { actions: [], notes: [] };
  if (running) plan.actions.push({ kind: 'run', argv: ['systemctl', 'disable', '--now', UNIT], purpose: `stop and disable ${UNIT}` });
  plan.actions.push({ kind: 'remove', path: unit });
  if (running) plan.actions.push({ kind: 'run', argv: ['systemctl', 'daemon-reload'], purpose: 'reload systemd' });
  else plan.notes.push('systemd is not running on this machine: nothing was stopped');
  plan.notes.push(`kept ${dir} (the enrollment, agent.yml, releases) and the user ${user}; if you no longer need them: userdel ${user} && rm -r ${dir}`);
  return plan;
}

/** `systemctl restart` and `systemctl is-active` on the agent's unit. */
export const systemdControl: ServiceControl = {
  describe: `systemctl restart ${UNIT}`,
  async restart() {
    await mustRun(['systemctl', 'restart', UNIT], `restart ${UNIT}`);
  },
  async isRunning() {
    return (await runCommand(['systemctl', 'is-active', '--quiet', UNIT])).code === 0;
  },
};
