/**
 * How step bounds (`limits`) are enforced on this server, found once at start, best-effort:
 * 1. systemd is PID 1 and `systemd-run --scope` works for the agent (tried once): each step runs in a transient scope with `MemoryMax=` and
 *    `CPUQuota=`;
 * 2. else the agent's own cgroup v2 is delegated to it (writable, `memory`/`cpu` available): the agent moves itself
 *    into a leaf `agent/` (cgroup v2 puts processes only in leaves of a tree with controllers on) and gives each step a
 *    child cgroup of its own;
 * 3. else nothing enforces them, and the caller warns.
 *
 * @example
 * const mechanism = await findLimitsMechanism(); // { kind: 'none', reason: 'PID 1 is not systemd and …' }
 */
import { spawnSync } from 'node:child_process';
import { access, constants, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findExecutable } from './check-privileges.js';

export type LimitsMechanism = { kind: 'systemd'; systemdRun: string } | { kind: 'cgroup'; dir: string } | { kind: 'none'; reason: string };

/** What finding the mechanism reads of the system; tests give their own. */
export interface LimitsProbe {
  pid1: () => Promise<string>;
  systemdRun: () => string | undefined;
  /** Whether `systemd-run --scope` works for this process (an unprivileged agent may not be allowed to create scopes). */
  scopeWorks: (systemdRun: string) => boolean;
  /** This process's cgroup v2 directory (mount point + path from /proc/self/cgroup), if any. */
  ownCgroup: () => Promise<string | undefined>;
  pid: number;
}

export const systemProbe: LimitsProbe = {
  pid1: () => readFile('/proc/1/comm', 'utf8').then((t) => t.trim(), () => ''),
  systemdRun: () => findExecutable('systemd-run'),
  scopeWorks: (systemdRun) => spawnSync(systemdRun, ['--scope', '--quiet', '--collect', '--', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0,
  ownCgroup: ownCgroupDir,
  pid: process.pid,
};

/** `/proc/self/cgroup`'s `0::/path` under the cgroup2 mount point of /proc/self/mountinfo. */
async function ownCgroupDir(): Promise<string | undefined> {
  const cgroup = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
  const path = /^0::(\/.*)$/m.exec(cgroup)?.[1];
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  // Fields: id parent major:minor root mountpoint options … - fstype source superoptions
  const mount = mountinfo.split('\n').map((l) => l.split(' ')).find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
  return path && mount ? join(mount, path) : undefined;
}

/** Which of `memory` and `cpu` the bounds need. */
export function controllersFor(bounds: { memoryBytes?: number; cpuPercent?: number }): string[] {
  return [...(bounds.memoryBytes ? ['memory'] : []), ...(bounds.cpuPercent ? ['cpu'] : [])];
}

/**
 * Finds (and, for a delegated cgroup, sets up) the mechanism for bounds needing `controllers`.
 */
export async function findLimitsMechanism(controllers: string[], probe: LimitsProbe = systemProbe): Promise<LimitsMechanism> {
  const systemdRun = probe.systemdRun();
  const pid1 = await probe.pid1();
  if (pid1 === 'systemd' && systemdRun && probe.scopeWorks(systemdRun)) return { kind: 'systemd', systemdRun };
  const why = pid1 !== 'systemd' ? 'PID 1 is not systemd' : systemdRun ? 'systemd-run --scope does not work for the agent' : 'systemd-run is not installed';
  const dir = await probe.ownCgroup();
  if (!dir) return { kind: 'none', reason: `${why} and this process is in no cgroup v2` };
  const available = (await readFile(join(dir, 'cgroup.controllers'), 'utf8').catch(() => '')).split(/\s+/);
  const missing = controllers.filter((c) => !available.includes(c));
  if (missing.length) return { kind: 'none', reason: `${why} and the agent's cgroup ${dir} does not offer the ${missing.join(' and ')} controller${missing.length > 1 ? 's' : ''} (not delegated to it)` };
  try {
    await access(join(dir, 'cgroup.subtree_control'), constants.W_OK);
    await enableControllers(dir, controllers, probe.pid);
  } catch (err) {
    return { kind: 'none', reason: `${why} and the agent's cgroup ${dir} is not delegated to it (${(err as Error).message})` };
  }
  return { kind: 'cgroup', dir };
}

/** The agent into `<dir>/agent`, then the controllers on for `<dir>`'s children. */
async function enableControllers(dir: string, controllers: string[], pid: number): Promise<void> {
  const enabled = (await readFile(join(dir, 'cgroup.subtree_control'), 'utf8')).split(/\s+/);
  if (controllers.every((c) => enabled.includes(c))) return;
  await mkdir(join(dir, 'agent'), { recursive: true });
  await writeFile(join(dir, 'agent', 'cgroup.procs'), `${pid}\n`);
  await writeFile(join(dir, 'cgroup.subtree_control'), controllers.map((c) => `+${c}`).join(' ') + '\n');
}
