/**
 * After the agent itself was killed mid-step, the step's process group lives on (it has its own, so that
 * cancellation can stop it whole). The restarted agent reports the job interrupted and must not leave that half-run
 * step going on beside the next deployment: it stops the group the journal names — but only when a process of that
 * group is provably the step (its environment names the job), since process ids are reused.
 *
 * @example
 * const stopped = await stopLeftoverStep(record.stepProcessGroup, record.jobId, { graceMs: 10_000 });
 */
import { readdir, readFile } from 'node:fs/promises';

/**
 * Pids of the live processes in process group `group` that run job `jobId`'s step, read from /proc (Linux). Empty
 * when none is left, or on a system without /proc.
 */
export async function leftoverProcesses(group: number, jobId: string): Promise<number[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const marker = `BITENVOY_JOB_ID=${jobId}\0`;
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command name (which may hold spaces and parentheses): state, ppid, pgrp, …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== group || fields[0] === 'Z') continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    if (environ.includes(marker)) found.push(Number(entry));
  }
  return found;
}

/**
 * Stops what job `jobId`'s step left running in process group `group`: SIGTERM to the group, SIGKILL after
 * `graceMs` if anything of it is still there. Returns how many of the step's processes were found.
 */
export async function stopLeftoverStep(group: number, jobId: string, options: { graceMs: number }): Promise<number> {
  const found = await leftoverProcesses(group, jobId);
  if (found.length === 0) return 0;
  signalGroup(group, 'SIGTERM');
  const deadline = Date.now() + options.graceMs;
  while (Date.now() < deadline && (await leftoverProcesses(group, jobId)).length > 0) await new Promise((r) => setTimeout(r, 100));
  if ((await leftoverProcesses(group, jobId)).length > 0) signalGroup(group, 'SIGKILL');
  return found.length;
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // gone meanwhile
  }
}
