import { BitEnvoyError } from './errors.js';

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * A duration in milliseconds. Numbers are seconds; strings carry a unit: `500ms`, `90s`, `10m`, `1h`. Zero,
 * negative and unit-less strings are refused: a timeout or lifetime of zero is never what was meant, and `30`
 * alone could mean seconds or minutes.
 *
 * @example
 * parseDuration('10m'); // 600000
 * parseDuration(30);    // 30000
 * parseDuration('30', 'ttl'); // throws BE_USAGE "ttl: `30` has no unit; write `30s`, `30m` or `30h`"
 */
export function parseDuration(value: number | string, what = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return value * 1000;
  } else {
    const match = /^\s*(\d{1,9})\s*(ms|s|m|h)\s*$/.exec(value);
    if (match && Number(match[1]) > 0) return Number(match[1]) * UNITS[match[2] as keyof typeof UNITS];
    if (/^\s*\d+\s*$/.test(value)) {
      const n = value.trim();
      throw new BitEnvoyError('BE_USAGE', `${what}: \`${n}\` has no unit; write \`${n}s\`, \`${n}m\` or \`${n}h\``);
    }
  }
  throw new BitEnvoyError(
    'BE_USAGE',
    `${what}: expected a positive number of seconds or a duration like \`90s\`, \`10m\` or \`1h\`, got \`${String(value)}\``,
  );
}
