/**
 * agent.yml `limits` in numbers: `memory` in bytes, `cpu` in percent of one core (what systemd's `CPUQuota=` and
 * cgroup v2's `cpu.max` are written from). The schema already checked the shapes; these only convert them.
 *
 * @example
 * parseLimits({ memory: '512M', cpu: '1.5 cores' }); // { memory: '512M', cpu: '1.5 cores', memoryBytes: 536870912, cpuPercent: 150 }
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { StepLimits } from '../../config-schema/types.generated.js';

/** A step's bounds: as written (for messages) and as numbers (for the platform). */
export interface StepBounds extends StepLimits {
  memoryBytes?: number;
  cpuPercent?: number;
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * Bytes of a `memory` bound: `512M`, `2G`, `1048576`.
 *
 * @example
 * parseMemory('512M', 'limits.memory'); // 536870912
 */
export function parseMemory(text: string, where: string): number {
  const match = /^([0-9]{1,15})([KMGT]?)$/.exec(text);
  const bytes = match ? Number(match[1]) * UNITS[match[2]!]! : NaN;
  // Below a few MiB not even a shell starts: a typo like `512` (bytes, meant MiB) is refused rather than obeyed.
  if (!Number.isSafeInteger(bytes) || bytes < 4 * 1024 ** 2) {
    throw new BitEnvoyError('BE_USAGE', `${where}: expected a size of at least 4M like \`512M\` or \`2G\`, got \`${text}\``);
  }
  return bytes;
}

/**
 * Percent of one core of a `cpu` bound: `50%` → 50, `1.5` or `1.5 cores` → 150.
 *
 * @example
 * parseCpu('2 cores', 'limits.cpu'); // 200
 */
export function parseCpu(text: string, where: string): number {
  const percent = /^([0-9]{1,5})%$/.exec(text);
  const cores = /^([0-9]{1,3}(?:\.[0-9]{1,2})?)(?: ?cores?)?$/.exec(text);
  const value = percent ? Number(percent[1]) : cores ? Math.round(Number(cores[1]) * 100) : NaN;
  if (!(value >= 1)) throw new BitEnvoyError('BE_USAGE', `${where}: expected a CPU share above zero like \`50%\` or \`1.5 cores\`, got \`${text}\``);
  return value;
}

/**
 * Converts `limits` (undefined when it bounds nothing).
 *
 * @example
 * parseLimits({ cpu: '50%' }, 'perRepository.acme/shop.limits'); // { cpu: '50%', cpuPercent: 50 }
 */
export function parseLimits(limits: StepLimits | undefined, where = 'limits'): StepBounds | undefined {
  if (!limits?.memory && !limits?.cpu) return undefined;
  return {
    ...limits,
    ...(limits.memory ? { memoryBytes: parseMemory(limits.memory, `${where}.memory`) } : {}),
    ...(limits.cpu ? { cpuPercent: parseCpu(limits.cpu, `${where}.cpu`) } : {}),
  };
}
