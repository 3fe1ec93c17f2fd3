/**
 * After the agent itself was killed mid-step, the step's process group lives on (it has its own, so that
 * cancellation can stop it whole). The restarted agent reports the job interrupted and must not leave that half-run
 * step going on beside the next deployment: it stops the group the journal names — but only when a process of that
 * group is provably the step (its environment names the job), since process ids are reused. On Windows (no /proc, no
 * process groups) the journaled pid is the step's shell: its tree is ended with `taskkill /T /F` when that pid is
 * still a shell's (`tasklist` tells); a pid reused by another shell meanwhile cannot be told apart there.
 *
 * @example
 * const stopped = await stopLeftoverStep(record.stepProcessGroup, record.jobId, { graceMs: 10_000 });
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { imageOfTasklistLine, stopPlan, stopProcessTree, WINDOWS_SHELL_IMAGES } from './platform/process-tree.js';

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

/** Runs a program and resolves with its stdout ('' when it fails): how the Windows path asks tasklist and taskkill. */
export type RunProgram = (file: string, args: string[]) => Promise<string>;

const runProgram: RunProgram = (file, args) =>
  new Promise((resolve) => execFile(file, args, { windowsHide: true }, (_err, stdout) => resolve(String(stdout ?? ''))));

/**
 * Stops what job `jobId`'s step left running in process group `group`: SIGTERM to the group, SIGKILL after
 * `graceMs` if anything of it is still there. Returns how many of the step's processes were found. On Windows
 * `group` is the step shell's pid, and its tree is ended at once.
 *
 * @example
 * await stopLeftoverStep(4242, 'job_1', { graceMs: 10_000, platform: 'win32' }); // taskkill.exe /T /F /PID 4242
 */
export async function stopLeftoverStep(group: number, jobId: string, options: { graceMs: number; platform?: NodeJS.Platform; run?: RunProgram }): Promise<number> {
  const platform = options.platform ?? process.platform;
  if (platform === 'win32') return stopLeftoverTree(group, options.run ?? runProgram);
  const found = await leftoverProcesses(group, jobId);
  if (found.length === 0) return 0;
  await stopProcessTree(group, 'SIGTERM', platform);
  const deadline = Date.now() + options.graceMs;
  while (Date.now() < deadline && (await leftoverProcesses(group, jobId)).length > 0) await new Promise((r) => setTimeout(r, 100));
  if ((await leftoverProcesses(group, jobId)).length > 0) await stopProcessTree(group, 'SIGKILL', platform);
  return found.length;
}

/** Windows: ends the tree of `pid` if that pid still runs a shell a step starts in; 1 when it did, else 0. */
async function stopLeftoverTree(pid: number, run: RunProgram): Promise<number> {
  const image = imageOfTasklistLine(await run('tasklist.exe', ['/FI', `PID eq ${pid}`, '/FO', 'CSV', '/NH']));
  if (!image || !WINDOWS_SHELL_IMAGES.has(image)) return 0;
  const plan = stopPlan(pid, 'SIGKILL', 'win32');
  if (plan.kind === 'command') await run(plan.file, plan.args);
  return 1;
}
