/**
 * What `bitenvoy agent install` and `uninstall` do, as data: files to write or remove and commands to run, in order,
 * with notes for the owner. `--dry-run` prints a plan; otherwise {@link applyPlan} carries it out. The service
 * manager's controls for an upgrade (restart, is it running) sit behind {@link ServiceControl}, so a test can put a
 * process supervisor of its own there.
 */
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mustRun, runCommand } from './run-command.js';

export type ServiceAction =
  | { kind: 'run'; argv: string[]; purpose: string; /** A failure is not one (e.g. stopping what may not run). */ optional?: boolean }
  | { kind: 'write'; path: string; text: string; mode: number }
  | { kind: 'remove'; path: string };

export interface ServicePlan {
  actions: ServiceAction[];
  /** Said after the actions: what could not be done here and how to do it, what was left in place. */
  notes: string[];
}

/** Restarts the agent's service and says whether it runs: systemd, launchd, Task Scheduler, or a test's supervisor. */
export interface ServiceControl {
  /** What restarts it, for messages: `systemctl restart bitenvoy-agent.service`. */
  readonly describe: string;
  restart(): Promise<void>;
  isRunning(): Promise<boolean>;
}

/**
 * The plan as the text `--dry-run` prints: each file with its content, each command as a shell line, then the notes.
 *
 * @example
 * print(describePlan(plan));
 */
export function describePlan(plan: ServicePlan): string {
  const lines = plan.actions.map((action) => {
    if (action.kind === 'run') return `run: ${action.argv.map(shellWord).join(' ')}${action.optional ? '  (may fail)' : ''}`;
    if (action.kind === 'remove') return `remove: ${action.path}`;
    return `write: ${action.path} (mode ${action.mode.toString(8)})\n${action.text.replace(/^/gm, '    ')}`;
  });
  return [...lines, ...plan.notes.map((note) => `note: ${note}`)].join('\n');
}

/** A word as a POSIX shell reads it: quoted when it holds anything but safe characters. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Carries the plan out in order, stopping at the first failure (a BE_SERVICE error naming it). Files are written
 * with their mode, their folder made when missing; removing a missing file is not a failure.
 *
 * @example
 * await applyPlan(plan);
 */
export async function applyPlan(plan: ServicePlan): Promise<void> {
  for (const action of plan.actions) {
    if (action.kind === 'run') await (action.optional ? runCommand(action.argv) : mustRun(action.argv, action.purpose));
    else if (action.kind === 'remove') await rm(action.path, { force: true });
    else {
      await mkdir(dirname(action.path), { recursive: true });
      await writeFile(action.path, action.text, { mode: action.mode });
      await chmod(action.path, action.mode);
    }
  }
}
