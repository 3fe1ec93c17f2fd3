/**
 * Step bounds: the systemd-run argv, the cgroup v2 files, the shell that moves a step into its cgroup before it runs
 * (run for real, against a folder standing in for the cgroup), and how the mechanism is chosen. This container has
 * neither systemd as PID 1 nor a delegated cgroup v2 with the memory controller, so a step really killed for memory
 * is not tested here; what this machine has is checked to be reported as not enforced.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { boundStep, cgroupSettings, systemdRunPrefix } from '../../../agent/run-as/bound-step.js';
import { findLimitsMechanism, type LimitsProbe } from '../../../agent/run-as/limits-mechanism.js';
import { parseLimits } from '../../../agent/run-as/parse-limits.js';
import { runStep } from '../../../agent/run-step.js';

const bounds = parseLimits({ memory: '512M', cpu: '1.5 cores' })!;
const temps: string[] = [];
afterEach(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function fakeCgroup(controllers: string, subtree = ''): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-cgroup-'));
  temps.push(dir);
  await writeFile(join(dir, 'cgroup.controllers'), `${controllers}\n`);
  await writeFile(join(dir, 'cgroup.subtree_control'), subtree);
  return dir;
}
const probe = (over: Partial<LimitsProbe>): LimitsProbe => ({ pid1: async () => 'init', systemdRun: () => undefined, scopeWorks: () => true, ownCgroup: async () => undefined, pid: 4242, ...over });

describe('bounding a step', () => {
  it('builds the systemd-run scope argv', () => {
    expect(systemdRunPrefix('/usr/bin/systemd-run', bounds, 'bitenvoy-step-j1-0')).toEqual([
      '/usr/bin/systemd-run', '--scope', '--quiet', '--collect', '--unit', 'bitenvoy-step-j1-0',
      '-p', 'MemoryMax=536870912', '-p', 'MemorySwapMax=0', '-p', 'CPUQuota=150%', '--',
    ]);
  });
  it('writes memory.max and cpu.max for a cgroup', () => {
    expect(cgroupSettings(bounds)).toEqual({ 'memory.max': '536870912', 'memory.swap.max': '0', 'cpu.max': '150000 100000' });
    expect(cgroupSettings(parseLimits({ cpu: '50%' })!)).toEqual({ 'cpu.max': '50000 100000' });
  });
  it('moves the step itself into its cgroup before its command runs, and reads the OOM kills after', async () => {
    const root = await fakeCgroup('cpu memory');
    const bound = await boundStep({ kind: 'cgroup', dir: root }, bounds, 'step-1');
    const cgroup = join(root, 'step-1');
    expect(await readFile(join(cgroup, 'memory.max'), 'utf8')).toBe('536870912');
    expect(await readFile(join(cgroup, 'cpu.max'), 'utf8')).toBe('150000 100000');
    let output = '';
    const result = await runStep({ command: 'echo "pid $$"', cwd: root, env: process.env, timeoutMs: 10_000, prefix: bound.prefix, onOutput: (_s, text) => (output += text) });
    expect(result.exitCode).toBe(0);
    // The shell that ran the command is the process that wrote itself into cgroup.procs (exec keeps the pid).
    expect(output.trim()).toBe(`pid ${(await readFile(join(cgroup, 'cgroup.procs'), 'utf8')).trim()}`);
    await writeFile(join(cgroup, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    expect(await bound.release()).toEqual({ memoryKilled: true });
  });
  it('adds nothing when nothing enforces the bounds', async () => {
    const bound = await boundStep({ kind: 'none', reason: 'test' }, bounds, 'step-1');
    expect(bound.prefix).toEqual([]);
    expect(await bound.release()).toEqual({ memoryKilled: undefined });
  });
});

describe('choosing the mechanism', () => {
  it('takes systemd-run when systemd is PID 1', async () => {
    expect(await findLimitsMechanism(['memory'], probe({ pid1: async () => 'systemd', systemdRun: () => '/usr/bin/systemd-run' }))).toEqual({ kind: 'systemd', systemdRun: '/usr/bin/systemd-run' });
    // An agent systemd does not let create scopes (unprivileged, no polkit rule) falls through to its own cgroup.
    const refused = probe({ pid1: async () => 'systemd', systemdRun: () => '/usr/bin/systemd-run', scopeWorks: () => false });
    expect(await findLimitsMechanism(['memory'], refused)).toEqual({ kind: 'none', reason: 'systemd-run --scope does not work for the agent and this process is in no cgroup v2' });
  });
  it('takes a delegated cgroup: moves the agent into a leaf and turns the controllers on for its children', async () => {
    const dir = await fakeCgroup('cpuset cpu io memory pids');
    expect(await findLimitsMechanism(['memory', 'cpu'], probe({ ownCgroup: async () => dir }))).toEqual({ kind: 'cgroup', dir });
    expect(await readFile(join(dir, 'agent', 'cgroup.procs'), 'utf8')).toBe('4242\n');
    expect(await readFile(join(dir, 'cgroup.subtree_control'), 'utf8')).toBe('+memory +cpu\n');
  });
  it('says why not when the controllers are missing or the cgroup is not writable', async () => {
    const dir = await fakeCgroup('cpu pids');
    expect(await findLimitsMechanism(['memory', 'cpu'], probe({ ownCgroup: async () => dir }))).toEqual({ kind: 'none', reason: `PID 1 is not systemd and the agent's cgroup ${dir} does not offer the memory controller (not delegated to it)` });
    expect(await findLimitsMechanism(['memory'], probe({}))).toEqual({ kind: 'none', reason: 'PID 1 is not systemd and this process is in no cgroup v2' });
    const readOnly = await fakeCgroup('memory');
    await mkdir(join(readOnly, 'cgroup.subtree_control.d'));
    await rm(join(readOnly, 'cgroup.subtree_control'));
    expect(await findLimitsMechanism(['memory'], probe({ ownCgroup: async () => readOnly }))).toMatchObject({ kind: 'none', reason: expect.stringMatching(/is not delegated to it \(ENOENT/) });
  });
  it('on this machine: finds a mechanism, or says why limits are not enforced', async () => {
    const mechanism = await findLimitsMechanism(['memory']);
    if (mechanism.kind === 'none') expect(mechanism.reason).toMatch(/^PID 1 is not systemd and /);
    else expect(['systemd', 'cgroup']).toContain(mechanism.kind);
  });
});
