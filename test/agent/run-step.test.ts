import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStep, type RunStepOptions } from '../../agent/run-step.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-step-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function run(command: string, options: Partial<RunStepOptions> = {}) {
  let out = '';
  const result = await runStep({ command, cwd: dir, env: { PATH: process.env.PATH, ...options.env }, timeoutMs: 10_000, killGraceMs: 500, ...options, onOutput: (_s, t) => (out += t) });
  return { ...result, out };
}

/** Running, not a zombie waiting for a reaper: /proc tells the difference, kill(pid, 0) does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

describe('runStep', () => {
  it('reports exit codes and output in order', async () => {
    const ok = await run('echo one; echo two >&2; echo three');
    expect(ok.exitCode).toBe(0);
    expect(ok.out).toContain('one\n');
    expect(ok.out.indexOf('one')).toBeLessThan(ok.out.indexOf('three'));
    expect((await run('exit 7')).exitCode).toBe(7);
  });

  it('passes the environment and the working directory', async () => {
    const res = await run('echo "$GREETING from $(pwd)"', { env: { GREETING: 'hello' } });
    expect(res.out.trim()).toBe(`hello from ${dir}`);
  });

  it('kills the whole process group on timeout, children included', async () => {
    const pidFile = join(dir, 'child.pid');
    const res = await run(`sleep 30 & echo $! > ${pidFile}; wait`, { timeoutMs: 300 });
    expect(res.timedOut).toBe(true);
    const childPid = Number((await import('node:fs/promises').then((fs) => fs.readFile(pidFile, 'utf8'))).trim());
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(childPid)).toBe(false);
  });

  it('escalates to SIGKILL when the step ignores SIGTERM', async () => {
    const res = await run(`trap '' TERM; echo ready; sleep 30`, { timeoutMs: 300, killGraceMs: 300 });
    expect(res.timedOut).toBe(true);
    expect(res.signal).toBe('SIGKILL');
  });

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort('cancelled by the hub'), 200);
    const res = await run('sleep 30', { signal: controller.signal });
    expect(res.cancelled).toBe(true);
    expect(res.durationMs).toBeLessThan(5000);
  });
});
