/**
 * Reads which command the words on the command line name, from the command registry: a command to run, a help page to
 * show, or a usage error that says what the nearest command is.
 */
import { closestWord } from '../config-schema/closest-word.js';
import { BitEnvoyError } from '../lib/errors.js';
import { COMMAND_PATHS, GROUPS, commandSpec } from './command-registry.js';

export type ResolvedCommand =
  | { kind: 'overview' }
  | { kind: 'version' }
  /** `path` is a command or a group (`agent`). */
  | { kind: 'help'; path: string }
  /** `top` is the first word; `args` everything after it (subcommand words included), as the command expects. */
  | { kind: 'run'; path: string; top: string; args: string[] };

const HELP = ['--help', '-h'];
const VERSION = ['--version', '-v'];

/** A command or a group. */
function known(path: string): boolean {
  return commandSpec(path) !== undefined || Object.hasOwn(GROUPS, path);
}

/** The words that may follow `prefix` (the top-level commands for an empty prefix). */
function nextWords(prefix: string): string[] {
  const words = [...COMMAND_PATHS, ...Object.keys(GROUPS)]
    .filter((p) => (prefix ? p.startsWith(`${prefix} `) : true))
    .map((p) => p.slice(prefix ? prefix.length + 1 : 0).split(' ')[0]!);
  return [...new Set(words)];
}

function unknown(prefix: string, word: string): BitEnvoyError {
  const near = closestWord(word, nextWords(prefix));
  const what = prefix ? `\`bitenvoy ${prefix}\` command` : 'command';
  const hint = near ? `did you mean \`bitenvoy ${prefix ? `${prefix} ` : ''}${near}\`?` : `the ${prefix ? `\`${prefix}\` ` : ''}commands are: ${nextWords(prefix).join(', ')}`;
  return new BitEnvoyError('BE_USAGE', `unknown ${what} \`${word}\`; ${hint}\nRun \`bitenvoy ${prefix ? `${prefix} ` : ''}--help\` to see them all.`);
}

/**
 * Which command `argv` names. `--help`/`-h` anywhere before `--` asks for that command's help.
 *
 * @example
 * resolveCommand(['agent', 'enroll', '--help']); // { kind: 'help', path: 'agent enroll' }
 * resolveCommand(['deplyo']); // throws BE_USAGE "unknown command `deplyo`; did you mean `bitenvoy deploy`?…"
 */
export function resolveCommand(argv: string[]): ResolvedCommand {
  const [first] = argv;
  if (first === undefined || HELP.includes(first)) return { kind: 'overview' };
  if (VERSION.includes(first) || (first === 'version' && !argv.some((a) => HELP.includes(a)))) return { kind: 'version' };
  if (first === 'help') {
    const words = argv.slice(1).filter((w) => !w.startsWith('-'));
    if (!words.length) return argv.slice(1).some((a) => HELP.includes(a)) ? { kind: 'help', path: 'help' } : { kind: 'overview' };
    const path = words.join(' ');
    if (known(path)) return { kind: 'help', path };
    throw helpTopicError(words);
  }
  if (first.startsWith('-')) {
    throw new BitEnvoyError('BE_USAGE', `unknown option \`${first}\`: the command comes first, e.g. \`bitenvoy deploy --help\`\nRun \`bitenvoy --help\` to see every command.`);
  }

  const words: string[] = [];
  while (words.length < argv.length && !argv[words.length]!.startsWith('-') && known([...words, argv[words.length]].join(' '))) words.push(argv[words.length]!);
  if (!words.length) throw unknown('', first);
  const path = words.join(' ');
  const next = argv[words.length];
  const end = argv.indexOf('--');
  const wantsHelp = argv.slice(0, end === -1 ? undefined : end).some((a) => HELP.includes(a));
  const spec = commandSpec(path);
  // A word after a group, or after a command that has subcommands but takes no argument, was meant as a subcommand.
  if (next !== undefined && !next.startsWith('-') && (!spec || (!spec.positionals && nextWords(path).length))) throw unknown(path, next);
  if (wantsHelp) return { kind: 'help', path };
  if (!spec) {
    throw new BitEnvoyError('BE_USAGE', `\`bitenvoy ${path}\` needs a command: ${nextWords(path).join(' or ')}\nRun \`bitenvoy ${path} --help\` to see them.`);
  }
  return { kind: 'run', path, top: words[0]!, args: argv.slice(1) };
}

function helpTopicError(words: string[]): BitEnvoyError {
  let prefix = '';
  for (const word of words) {
    const path = prefix ? `${prefix} ${word}` : word;
    if (!known(path)) return unknown(prefix, word);
    prefix = path;
  }
  return unknown('', words.join(' '));
}
