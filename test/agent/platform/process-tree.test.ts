/**
 * Stopping a step's process tree: on Linux for real (a process group with a grandchild), on Windows as the
 * taskkill argv and the tasklist check before a journaled pid is stopped after a crash.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { imageOfTasklistLine, stopPlan, stopProcessTree, treeSpawnOptions } from '../../../agent/platform/process-tree.js';
import { stopLeftoverStep } from '../../../agent/stop-leftover-step.js';

/** Running, not a zombie waiting for a reaper. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('stopPlan', () => {
  it('signals the process group on Unix and runs taskkill /T /F on Windows', () => {
    expect(stopPlan(4242, 'SIGTERM', 'linux')).toEqual({ kind: 'group-signal', group: 4242, signal: 'SIGTERM' });
    expect(stopPlan(4242, 'SIGKILL', 'darwin')).toEqual({ kind: 'group-signal', group: 4242, signal: 'SIGKILL' });
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      expect(stopPlan(4242, signal, 'win32')).toEqual({ kind: 'command', file: 'taskkill.exe', args: ['/T', '/F', '/PID', '4242'] });
    }
    // A pid of 0 or below would signal the agent's own group (or every process): never.
    for (const pid of [0, -1, 1.5]) expect(() => stopPlan(pid, 'SIGTERM', 'linux')).toThrow('not a process id');
  });

  it('starts steps in their own group on Unix only', () => {
    expect(treeSpawnOptions('linux')).toEqual({ detached: true, windowsHide: true });
    expect(treeSpawnOptions('win32')).toEqual({ detached: false, windowsHide: true });
  });
});

describe('stopProcessTree on this machine', () => {
  it('stops the shell and the grandchild it started', async () => {
    const child = spawn('/bin/sh', ['-c', 'sleep 30 & echo $!; wait'], { ...treeSpawnOptions(), stdio: ['ignore', 'pipe', 'ignore'] });
    const grandchild = await new Promise<number>((resolve) => child.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
    expect(alive(grandchild)).toBe(true);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await stopProcessTree(child.pid!, 'SIGTERM');
    await exited;
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(grandchild)).toBe(false);
  });
});

describe('stopLeftoverStep on Windows', () => {
  const calls: string[][] = [];
  const answering = (tasklist: string) => async (file: string, args: string[]) => {
    calls.push([file, ...args]);
    return file === 'tasklist.exe' ? tasklist : '';
  };

  it('ends the tree of the journaled pid when it is still a step shell', async () => {
    calls.length = 0;
    const stopped = await stopLeftoverStep(4242, 'job_1', { graceMs: 100, platform: 'win32', run: answering('"pwsh.exe","4242","Services","0","81,220 K"\r\n') });
    expect(stopped).toBe(1);
    expect(calls).toEqual([
      ['tasklist.exe', '/FI', 'PID eq 4242', '/FO', 'CSV', '/NH'],
      ['taskkill.exe', '/T', '/F', '/PID', '4242'],
    ]);
  });

  it('leaves a pid alone that is gone or now runs something else', async () => {
    for (const answer of ['INFO: No tasks are running which match the specified criteria.\r\n', '"notepad.exe","4242","Console","1","9,000 K"\r\n']) {
      calls.length = 0;
      expect(await stopLeftoverStep(4242, 'job_1', { graceMs: 100, platform: 'win32', run: answering(answer) })).toBe(0);
      expect(calls.map((c) => c[0])).toEqual(['tasklist.exe']);
    }
  });

  it('reads image names from tasklist CSV', () => {
    expect(imageOfTasklistLine('"CMD.EXE","17","Services","0","4,000 K"')).toBe('cmd.exe');
    expect(imageOfTasklistLine('INFO: No tasks are running')).toBeUndefined();
  });
});
