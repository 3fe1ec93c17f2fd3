/**
 * Stopping a step with everything it started. On Unix a step runs in its own process group, and the group gets the
 * signal (`kill(-pid)`): children and grandchildren too. Windows has no signals and no groups of that kind: the step's
 * process tree is ended with `taskkill /T /F /PID`, at once (there is no gentle first stage worth the name — a
 * console-less service gets no Ctrl+C), so the SIGTERM stage is the same as the SIGKILL one there.
 *
 * @example
 * stopProcessTree(child.pid, 'SIGTERM'); // Linux: process.kill(-pid, 'SIGTERM'); Windows: taskkill /T /F /PID pid
 */
import { execFile } from 'node:child_process';

/** What stopping a tree means on a platform: signal a process group, or run a program. */
export type StopPlan = { kind: 'group-signal'; group: number; signal: NodeJS.Signals } | { kind: 'command'; file: string; args: string[] };

/**
 * How the tree rooted at `pid` is stopped with `signal` on `platform`.
 *
 * @example
 * stopPlan(4242, 'SIGKILL', 'win32'); // { kind: 'command', file: 'taskkill.exe', args: ['/T', '/F', '/PID', '4242'] }
 */
export function stopPlan(pid: number, signal: NodeJS.Signals, platform: NodeJS.Platform = process.platform): StopPlan {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`not a process id: ${pid}`);
  if (platform === 'win32') return { kind: 'command', file: 'taskkill.exe', args: ['/T', '/F', '/PID', String(pid)] };
  return { kind: 'group-signal', group: pid, signal };
}

/**
 * Stops the tree rooted at `pid` (on Unix: the process group `pid` leads). A tree that is already gone is not an
 * error. Resolves when the signal was sent or taskkill has finished.
 *
 * @example
 * await stopProcessTree(child.pid!, 'SIGTERM');
 */
export async function stopProcessTree(pid: number, signal: NodeJS.Signals, platform: NodeJS.Platform = process.platform): Promise<void> {
  const plan = stopPlan(pid, signal, platform);
  if (plan.kind === 'group-signal') {
    try {
      process.kill(-plan.group, plan.signal);
    } catch {
      // the group is already gone
    }
    return;
  }
  await new Promise<void>((resolve) => execFile(plan.file, plan.args, { windowsHide: true }, () => resolve()));
}

/**
 * Spawn options that make a step stoppable as a whole: its own process group on Unix (`detached`); on Windows a
 * detached process would get its own console window, and taskkill /T follows the tree without it.
 *
 * @example
 * spawn(file, args, { ...treeSpawnOptions(), cwd });
 */
export function treeSpawnOptions(platform: NodeJS.Platform = process.platform): { detached: boolean; windowsHide: boolean } {
  return { detached: platform !== 'win32', windowsHide: true };
}

/** The executables a step's tree starts with on Windows: a journaled pid is stopped only when it is still one. */
export const WINDOWS_SHELL_IMAGES: ReadonlySet<string> = new Set(['pwsh.exe', 'powershell.exe', 'cmd.exe', 'bash.exe']);

/**
 * The image name `tasklist /FI "PID eq N" /FO CSV /NH` reports for a pid, or undefined when no such process runs
 * (tasklist then prints an INFO line, not CSV).
 *
 * @example
 * imageOfTasklistLine('"pwsh.exe","4242","Services","0","81,220 K"\r\n'); // 'pwsh.exe'
 */
export function imageOfTasklistLine(output: string): string | undefined {
  const match = /^"([^"]+)","(\d+)"/m.exec(output);
  return match ? match[1]!.toLowerCase() : undefined;
}
