/**
 * `bitenvoy agent install`, `agent uninstall` and `agent upgrade`: the agent as a service of the system's service
 * manager (systemd, launchd, Task Scheduler), and replacing its executable with a release. Loaded only for these
 * commands: a running agent never pays for them.
 */
import { resolve } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';
import { parseDuration } from '../../lib/parse-duration.js';
import { agentRunCommand, isAgentExecutable } from '../../agent/service/agent-command.js';
import { planInstall, planUninstall, requireAdmin, serviceControl } from '../../agent/service/install-service.js';
import { applyPlan, describePlan, type ServicePlan } from '../../agent/service/service-plan.js';
import { synopsis } from '../command-registry.js';
import { print, printError } from '../output.js';
import { firstOf, parseOptions, required } from './parse-options.js';

/**
 * Runs `bitenvoy agent <sub>` for the service subcommands.
 *
 * @example
 * await agentServiceCommand('install', ['--dir', '/var/lib/bitenvoy-agent', '--dry-run']);
 */
export async function agentServiceCommand(sub: 'install' | 'uninstall' | 'upgrade', args: string[]): Promise<number> {
  if (sub === 'install') return install(args);
  if (sub === 'uninstall') return uninstall(args);
  return upgrade(args);
}

async function install(args: string[]): Promise<number> {
  const usage = synopsis('agent install');
  const { values } = parseOptions(
    'agent install',
    args,
    { dir: { type: 'string' }, user: { type: 'string' }, writable: { type: 'string', multiple: true }, 'dry-run': { type: 'boolean' } },
    usage,
  );
  if (values.help) return help(usage);
  const dir = resolve(required(firstOf(values.dir, process.env.BITENVOY_AGENT_DIR), 'dir', usage));
  const dryRun = values['dry-run'] ?? false;
  if (!dryRun) await requireAdmin('install');
  const plan = await planInstall({ dir, user: values.user ?? 'bitenvoy-agent', writable: (values.writable ?? []).map((path) => resolve(path)), command: agentRunCommand(dir) });
  return carryOut(plan, dryRun, 'installed the agent as a service');
}

async function uninstall(args: string[]): Promise<number> {
  const usage = synopsis('agent uninstall');
  const { values } = parseOptions('agent uninstall', args, { dir: { type: 'string' }, 'dry-run': { type: 'boolean' } }, usage);
  if (values.help) return help(usage);
  const dir = firstOf(values.dir, process.env.BITENVOY_AGENT_DIR);
  const dryRun = values['dry-run'] ?? false;
  if (!dryRun) await requireAdmin('uninstall');
  const plan = await planUninstall(dir ? { dir: resolve(dir) } : {});
  return carryOut(plan, dryRun, 'removed the agent service');
}

/** Prints the plan (`--dry-run`), or carries it out, saying each command, then the notes. */
async function carryOut(plan: ServicePlan, dryRun: boolean, done: string): Promise<number> {
  if (dryRun) {
    print(`would do (--dry-run, nothing changed):\n${describePlan(plan)}`);
    return 0;
  }
  await applyPlan(plan);
  print(`${done}:\n${describePlan({ actions: plan.actions.map((a) => (a.kind === 'write' ? { ...a, text: '' } : a)), notes: plan.notes }).replace(/\n\s*\n/g, '\n')}`);
  return 0;
}

async function upgrade(args: string[]): Promise<number> {
  const usage = synopsis('agent upgrade');
  const { values } = parseOptions('agent upgrade', args, { from: { type: 'string' }, dir: { type: 'string' }, timeout: { type: 'string' } }, usage);
  if (values.help) return help(usage);
  const from = required(values.from, 'from', usage);
  const dir = resolve(required(firstOf(values.dir, process.env.BITENVOY_AGENT_DIR), 'dir', usage));
  const deadlineMs = parseDuration(values.timeout ?? '60s', '--timeout');
  if (!isAgentExecutable()) {
    throw new BitEnvoyError('BE_SERVICE', 'this bitenvoy was installed with npm, not as the agent executable: upgrade it with `npm install -g bitenvoy@VERSION`, then restart the agent service');
  }
  await requireAdmin('upgrade');
  const { upgradeAgent } = await import('../../agent/service/upgrade-agent.js');
  const result = await upgradeAgent({ from, executable: process.execPath, dir, control: serviceControl(), deadlineMs, say: printError });
  print(`upgraded the agent from ${result.from} to ${result.to}; it runs`);
  return 0;
}

function help(usage: string): number {
  process.stdout.write(`usage: ${usage}\n`);
  return 0;
}
