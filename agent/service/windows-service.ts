/**
 * The agent on Windows as a scheduled task (see `render-windows-task.ts` for why not a service): the plan to install
 * and uninstall it, and its controls for an upgrade. The task's XML is kept in the agent directory.
 */
import { join } from 'node:path';
import { renderWindowsTask } from './render-windows-task.js';
import { mustRun, runCommand } from './run-command.js';
import { SERVICE_NAMES, type ServiceSpec } from './service-spec.js';
import type { ServiceControl, ServicePlan } from './service-plan.js';

const TASK = SERVICE_NAMES.windows;
const TASK_FILE = 'bitenvoy-agent-task.xml';

/**
 * Writes the task's XML into the agent directory, registers the task (`schtasks /Create /XML`) and starts it.
 *
 * @example
 * await applyPlan(planWindowsInstall(spec));
 */
export function planWindowsInstall(spec: ServiceSpec): ServicePlan {
  const file = join(spec.dir, TASK_FILE);
  return {
    actions: [
      { kind: 'write', path: file, text: renderWindowsTask(spec), mode: 0o600 },
      { kind: 'run', argv: ['schtasks', '/Create', '/TN', TASK, '/XML', file, '/F'], purpose: `register the scheduled task ${TASK}` },
      { kind: 'run', argv: ['schtasks', '/Run', '/TN', TASK], purpose: `start the scheduled task ${TASK}` },
    ],
    notes: [
      `the agent runs as a scheduled task (at boot, as SYSTEM, started again when it fails), not as a Windows service: --user and --writable do not apply; see it with \`schtasks /Query /TN ${TASK} /V\``,
    ],
  };
}

/**
 * Ends and deletes the task; the agent directory stays.
 *
 * @example
 * await applyPlan(planWindowsUninstall('C:\\ProgramData\\BitEnvoy\\agent'));
 */
export function planWindowsUninstall(dir: string | undefined): ServicePlan {
  return {
    actions: [
      { kind: 'run', argv: ['schtasks', '/End', '/TN', TASK], purpose: `end the scheduled task ${TASK}`, optional: true },
      { kind: 'run', argv: ['schtasks', '/Delete', '/TN', TASK, '/F'], purpose: `delete the scheduled task ${TASK}` },
      ...(dir ? [{ kind: 'remove' as const, path: join(dir, TASK_FILE) }] : []),
    ],
    notes: ['kept the agent directory (the enrollment, agent.yml, releases)'],
  };
}

/** `schtasks /End` then `/Run`, and `schtasks /Query` for `Running`. */
export const windowsControl: ServiceControl = {
  describe: `schtasks /End /TN ${TASK} && schtasks /Run /TN ${TASK}`,
  async restart() {
    await runCommand(['schtasks', '/End', '/TN', TASK]);
    await mustRun(['schtasks', '/Run', '/TN', TASK], `start the scheduled task ${TASK}`);
  },
  async isRunning() {
    const query = await runCommand(['schtasks', '/Query', '/TN', TASK, '/FO', 'CSV', '/NH']);
    return query.code === 0 && query.stdout.includes('"Running"');
  },
};
