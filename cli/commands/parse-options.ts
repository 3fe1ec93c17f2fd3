import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { closestWord } from '../../config-schema/closest-word.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { COMMANDS, synopsis, type CommandPath } from '../command-registry.js';

/** The `util.parseArgs` options of a registry entry: each option's type and short alias, nothing else. */
type ParseConfigOf<O> = { -readonly [K in keyof O]: O[K] extends { readonly type: infer T extends 'string' | 'boolean' } ? { type: T; short?: string } : never };

/**
 * Parses a command's arguments with the options its registry entry declares, so what `--help` lists is exactly what
 * is accepted. Usage mistakes are BE_USAGE errors with the synopsis.
 *
 * @example
 * const { values, positionals } = parseCommand('cancel', ['dep_1', '--by', 'alice']);
 */
export function parseCommand<P extends CommandPath>(path: P, args: string[]) {
  const spec: (typeof COMMANDS)[P] = COMMANDS[path];
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([name, o]) => [name, { type: o.type, ...('short' in o && o.short ? { short: o.short } : {}) }]),
  ) as ParseConfigOf<(typeof COMMANDS)[P]['options']>;
  return parseOptions(path, args, options, synopsis(path), 'positionals' in spec);
}

/**
 * `util.parseArgs` with BitEnvoy's errors: an unknown or malformed option is a BE_USAGE error that names the
 * command, the nearest option when one is close, and the usage line.
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
    throw new BitEnvoyError('BE_USAGE', `${command}: ${explain(err as Error & { code?: string }, Object.keys(options))}\nusage: ${usage}\nRun \`bitenvoy ${command} --help\` for more.`);
  }
}

function explain(err: Error & { code?: string }, names: string[]): string {
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'(-[^']*)'/.exec(err.message)?.[1] ?? '';
    const word = option.replace(/^-+/, '').split('=')[0]!;
    // `--repo` is short for `--repository` rather than a typo of `--ref`.
    const longer = names.filter((n) => word.length >= 2 && n.startsWith(word));
    const near = longer.length === 1 ? longer[0] : closestWord(word, names);
    return `unknown option \`${option}\`${near ? `; did you mean \`--${near}\`?` : ''}`;
  }
  return err.message;
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
