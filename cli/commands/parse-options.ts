import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { BitEnvoyError } from '../../lib/errors.js';

/**
 * `util.parseArgs` with BitEnvoy's errors: an unknown or malformed option is a BE_USAGE error that names the
 * command and shows its usage line.
 *
 * @example
 * const { values } = parseOptions('agent run', args, { dir: { type: 'string' } }, 'bitenvoy agent run --dir DIR');
 */
export function parseOptions<T extends ParseArgsOptionsConfig>(
  command: string,
  args: string[],
  options: T,
  usage: string,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (err) {
    throw new BitEnvoyError('BE_USAGE', `${command}: ${(err as Error).message}\nusage: ${usage}`);
  }
}

/** The value of a required option, or a BE_USAGE error saying which option is missing. */
export function required(value: string | undefined, option: string, usage: string): string {
  if (value === undefined || value === '') throw new BitEnvoyError('BE_USAGE', `missing --${option}\nusage: ${usage}`);
  return value;
}

/** Resolves the first of several settings sources, e.g. a flag then an environment variable. */
export function firstOf(...values: Array<string | undefined>): string | undefined {
  return values.find((v) => v !== undefined && v !== '');
}
