/**
 * Help text, made only from the command registry: the overview (`bitenvoy --help`), a command's page
 * (`bitenvoy deploy --help`, `bitenvoy help deploy`), a group's page (`bitenvoy agent --help`) and the one-line
 * synopsis (from the registry) that usage errors show too.
 */
import { version } from '../lib/package-root.js';
import { COMMAND_PATHS, GROUPS, commandSpec, synopsisParts, type CommandSpec, type OptionSpec } from './command-registry.js';

const WIDTH = 100;

/** `bitenvoy --help`: every command with what it does. */
export function renderOverview(): string {
  const rows = COMMAND_PATHS.map((path) => [path, commandSpec(path)!.summary] as const);
  return [
    `bitenvoy ${version} — pull-based deployments`,
    '',
    'Usage: bitenvoy <command> [options]',
    '',
    'Commands:',
    ...table(rows),
    '',
    'Options:',
    ...table([
      ['-h, --help', 'show help; after a command, that command\'s help (`bitenvoy deploy --help`)'],
      ['-v, --version', 'print the version'],
    ]),
    '',
    'Run `bitenvoy <command> --help` (or `bitenvoy help <command>`) for its options, environment variables and an example.',
    '',
  ].join('\n');
}

/** A command's help page, or a group's (`agent`, `hub token`). Undefined for anything else. */
export async function renderHelp(path: string): Promise<string | undefined> {
  const spec = commandSpec(path);
  if (spec) return renderCommand(path, spec);
  if (Object.hasOwn(GROUPS, path)) return renderGroup(path);
  return undefined;
}

async function renderCommand(path: string, spec: CommandSpec): Promise<string> {
  const out = [`bitenvoy ${path} — ${spec.summary}`, '', ...wrap(['Usage:', ...synopsisParts(path)], '', '         ')];
  if (spec.details) out.push('', ...wrap(spec.details, '', ''));
  if (spec.positionals?.length) {
    out.push('', 'Arguments:', ...table(spec.positionals.map((p) => [p.name, p.description + (p.optional ? '' : ' (required)')])));
  }
  const options = Object.entries(spec.options).map(([name, o]) => [flagOf(name, o), describeOption(o)] as const);
  options.push(['-h, --help', 'show this help']);
  out.push('', 'Options:', ...table(options));
  const environment = [...(spec.environment ?? []), ...((await spec.moreEnvironment?.()) ?? [])];
  if (environment.length) {
    out.push('', 'Environment:', ...table(environment.map((e) => [e.name, e.description + (e.default ? ` (default: ${e.default})` : '')])));
  }
  const subcommands = COMMAND_PATHS.filter((p) => p.startsWith(`${path} `));
  if (subcommands.length) out.push('', 'Commands:', ...table(subcommands.map((p) => [`bitenvoy ${p}`, commandSpec(p)!.summary])));
  out.push('', spec.examples.length > 1 ? 'Examples:' : 'Example:', ...spec.examples.map((e) => `  ${e}`), '');
  return out.join('\n');
}

function renderGroup(group: string): string {
  const members = COMMAND_PATHS.filter((p) => p.startsWith(`${group} `));
  const out = [`bitenvoy ${group} — ${GROUPS[group]}`, '', `Usage: bitenvoy ${group} <command> [options]`, '', 'Commands:'];
  for (const p of members) out.push(...wrap(synopsisParts(p), '  ', '      '), ...wrap(commandSpec(p)!.summary, '      ', '      '));
  out.push('', 'Examples:', ...members.flatMap((p) => commandSpec(p)!.examples.map((e) => `  ${e}`)));
  out.push('', `Run \`bitenvoy ${group} <command> --help\` for a command's options and environment variables.`, '');
  return out.join('\n');
}

function flagOf(name: string, option: OptionSpec): string {
  return `${option.short ? `-${option.short}, ` : '    '}--${name}${option.value ? ` ${option.value}` : ''}`;
}

function describeOption(option: OptionSpec): string {
  const more = [
    option.required ? 'required' : '',
    option.env?.length ? `env ${option.env.join(', then ')}` : '',
    option.default ? `default: ${option.default}` : '',
  ].filter(Boolean);
  return option.description + (more.length ? ` (${more.join('; ')})` : '');
}

/** Two columns; the second wraps under itself. */
function table(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.min(30, Math.max(...rows.map(([left]) => left.length)));
  const indent = ' '.repeat(width + 4);
  return rows.flatMap(([left, right]) =>
    left.length > width ? [`  ${left}`, ...wrap(right, indent, indent)] : wrap(right, `  ${left.padEnd(width)}  `, indent),
  );
}

/** Word-wraps `text` (or words that must stay whole) to the width, the first line after `first`, the others after `rest`. */
function wrap(text: string | string[], first: string, rest: string): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of typeof text === 'string' ? text.split(/\s+/) : text) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = rest + word;
    } else {
      line += (empty ? '' : ' ') + word;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}
