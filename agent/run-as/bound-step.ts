/**
 * Puts one step under its bounds with the mechanism found at start: the command prefix that starts it inside them,
 * and afterwards whether it hit its memory bound.
 *
 * @example
 * const bound = await boundStep(mechanism, bounds, 'bitenvoy-step-job_1-0');
 * runStep({ …, prefix: [...bound.prefix, ...userPrefix] });
 * const { memoryKilled } = await bound.release();
 */
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LimitsMechanism } from './limits-mechanism.js';
import type { StepBounds } from './parse-limits.js';

export interface BoundStep {
  /** argv to put before the step's own command (empty when nothing bounds it). */
  prefix: string[];
  /** After the step: cleans up; says whether the kernel killed something of it for memory (when that can be known). */
  release(): Promise<{ memoryKilled: boolean | undefined }>;
}

/** cgroup v2's and systemd's CPU period: 100 ms. */
const CPU_PERIOD_US = 100_000;

/**
 * `systemd-run --scope` argv for the bounds: the scope is a transient unit, gone when the step's last process is.
 *
 * @example
 * systemdRunPrefix('/usr/bin/systemd-run', { memoryBytes: 536870912, cpuPercent: 50 }, 'bitenvoy-step-j1-0');
 * // ['/usr/bin/systemd-run', '--scope', '--quiet', '--collect', '--unit', 'bitenvoy-step-j1-0', '-p', 'MemoryMax=536870912', '-p', 'MemorySwapMax=0', '-p', 'CPUQuota=50%', '--']
 */
export function systemdRunPrefix(systemdRun: string, bounds: StepBounds, unit: string): string[] {
  const properties = [
    ...(bounds.memoryBytes ? [`MemoryMax=${bounds.memoryBytes}`, 'MemorySwapMax=0'] : []),
    ...(bounds.cpuPercent ? [`CPUQuota=${bounds.cpuPercent}%`] : []),
  ];
  return [systemdRun, '--scope', '--quiet', '--collect', '--unit', unit, ...properties.flatMap((p) => ['-p', p]), '--'];
}

/**
 * The argv that moves itself into a cgroup and then runs the rest: a shell writes its own pid into `cgroup.procs`
 * before it execs the step, so nothing of the step ever runs outside its bounds.
 *
 * @example
 * cgroupPrefix('/sys/fs/cgroup/agent.service/step-1'); // ['/bin/sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', '/sys/fs/cgroup/agent.service/step-1']
 */
export function cgroupPrefix(cgroup: string): string[] {
  return ['/bin/sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup];
}

/** The files a step's cgroup gets for its bounds (`memory.max`, `memory.swap.max`, `cpu.max`). */
export function cgroupSettings(bounds: StepBounds): Record<string, string> {
  return {
    ...(bounds.memoryBytes ? { 'memory.max': String(bounds.memoryBytes), 'memory.swap.max': '0' } : {}),
    ...(bounds.cpuPercent ? { 'cpu.max': `${Math.round((bounds.cpuPercent / 100) * CPU_PERIOD_US)} ${CPU_PERIOD_US}` } : {}),
  };
}

export async function boundStep(mechanism: LimitsMechanism, bounds: StepBounds | undefined, name: string): Promise<BoundStep> {
  const unbounded: BoundStep = { prefix: [], release: async () => ({ memoryKilled: undefined }) };
  if (!bounds || mechanism.kind === 'none') return unbounded;
  if (mechanism.kind === 'systemd') return { prefix: systemdRunPrefix(mechanism.systemdRun, bounds, name), release: unbounded.release };
  const cgroup = join(mechanism.dir, name);
  await mkdir(cgroup, { recursive: true });
  for (const [file, value] of Object.entries(cgroupSettings(bounds))) {
    // memory.swap.max is missing where swap accounting is off: the memory bound still holds.
    await writeFile(join(cgroup, file), value).catch((err: NodeJS.ErrnoException) => {
      if (file !== 'memory.swap.max') throw err;
    });
  }
  return {
    prefix: cgroupPrefix(cgroup),
    async release() {
      const events = await readFile(join(cgroup, 'memory.events'), 'utf8').catch(() => '');
      const kills = Number(/^oom_kill (\d+)$/m.exec(events)?.[1] ?? 0);
      // A daemon the step left behind keeps the cgroup busy: it stays, and goes with the agent's.
      await rmdir(cgroup).catch(() => undefined);
      return { memoryKilled: bounds.memoryBytes ? kills > 0 : undefined };
    },
  };
}
