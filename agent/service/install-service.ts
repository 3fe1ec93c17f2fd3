/**
 * `bitenvoy agent install` and `uninstall`, whatever the system: which service manager, what it is given, and the
 * checks before anything is changed (run as root or Administrator, the directory enrolled, agent.yml valid).
 */
import { loadAgentConfig } from '../agent-config.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { agentYmlHasLimits, agentYmlHasRunAs } from './detect-run-as.js';
import { planLaunchdInstall, planLaunchdUninstall, launchdControl } from './launchd-service.js';
import { runCommand } from './run-command.js';
import type { ServiceControl, ServicePlan } from './service-plan.js';
import { checkServicePath, checkUserName, type ServiceSpec } from './service-spec.js';
import { planSystemdInstall, planSystemdUninstall, systemdControl } from './systemd-service.js';
import { planWindowsInstall, planWindowsUninstall, windowsControl } from './windows-service.js';

export interface InstallOptions {
  /** The agent directory, absolute. */
  dir: string;
  user: string;
  writable: string[];
  /** The command that starts the agent (see `agentRunCommand`). */
  command: string[];
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
}

/**
 * Checks the directory and options, then plans the install for this system's service manager.
 * Throws BE_USAGE when the directory is not enrolled, agent.yml does not load or a path or name is unusable.
 *
 * @example
 * const plan = await planInstall({ dir: '/var/lib/bitenvoy-agent', user: 'bitenvoy-agent', writable: ['/srv/www'], command });
 */
export async function planInstall(options: InstallOptions): Promise<ServicePlan> {
  const platform = options.platform ?? process.platform;
  checkServicePath(options.dir, '--dir', platform);
  for (const path of options.writable) checkServicePath(path, '--writable', platform);
  for (const word of options.command.filter((w) => !/^(agent|run|--dir)$/.test(w))) checkServicePath(word, 'the agent program', platform);
  // The same checks as `bitenvoy agent run`: a service that could never start is not installed.
  await loadAgentConfig(options.dir);
  const spec: ServiceSpec = { dir: options.dir, user: platform === 'win32' ? 'SYSTEM' : checkUserName(options.user), command: options.command, writable: options.writable, runAs: await agentYmlHasRunAs(options.dir), limits: await agentYmlHasLimits(options.dir) };
  const plan = platform === 'linux' ? await planSystemdInstall(spec, options.env) : platform === 'darwin' ? await planLaunchdInstall(spec, options.env) : platform === 'win32' ? planWindowsInstall(spec) : unsupported(platform);
  if (spec.writable.length && platform === 'linux') plan.notes.push(`the service may write ${spec.writable.join(', ')}; make sure ${spec.user} has the permissions there (install does not change them)`);
  if (spec.runAs) plan.notes.push('agent.yml has runAs: the service keeps the capabilities to run steps as other users');
  if (spec.limits) plan.notes.push('agent.yml has limits: systemd delegates the cpu and memory controllers to the agent, which bounds each step in a cgroup of its own');
  return plan;
}

/**
 * Plans the uninstall for this system's service manager (`dir` is only needed on Windows).
 *
 * @example
 * await applyPlan(await planUninstall({}));
 */
export async function planUninstall(options: { dir?: string; platform?: NodeJS.Platform; env?: NodeJS.ProcessEnv }): Promise<ServicePlan> {
  const platform = options.platform ?? process.platform;
  if (platform === 'linux') return planSystemdUninstall(options.env);
  if (platform === 'darwin') return planLaunchdUninstall(options.env);
  if (platform === 'win32') return planWindowsUninstall(options.dir);
  return unsupported(platform);
}

/**
 * The service manager's controls on this system, for an upgrade.
 *
 * @example
 * await serviceControl().restart();
 */
export function serviceControl(platform: NodeJS.Platform = process.platform): ServiceControl {
  if (platform === 'linux') return systemdControl;
  if (platform === 'darwin') return launchdControl;
  if (platform === 'win32') return windowsControl;
  return unsupported(platform);
}

function unsupported(platform: string): never {
  throw new BitEnvoyError('BE_SERVICE', `no service manager BitEnvoy knows on ${platform}: run \`bitenvoy agent run --dir DIR\` under your own supervisor (templates/systemd shows what it needs)`);
}

/**
 * Throws BE_SERVICE unless this process may install services: root on Linux and macOS, an Administrator on Windows.
 *
 * @example
 * await requireAdmin('install');
 */
export async function requireAdmin(what: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  if (platform === 'win32') {
    if ((await runCommand(['net', 'session'])).code === 0) return;
    throw new BitEnvoyError('BE_SERVICE', `\`bitenvoy agent ${what}\` needs an Administrator: run it from an elevated prompt (or add --dry-run to see what it would do)`);
  }
  if (process.getuid?.() === 0) return;
  throw new BitEnvoyError('BE_SERVICE', `\`bitenvoy agent ${what}\` changes the system's services and needs root: run it with sudo (or add --dry-run to see what it would do)`);
}
