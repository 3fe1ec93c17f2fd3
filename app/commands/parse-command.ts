/**
 * Reads a pull-request comment as a BitEnvoy command. Only a comment whose first line starts with a known slash
 * command is one; anything else (prose, a quote, a command inside a code block) is not, so people can talk about
 * `/deploy` without deploying.
 *
 * @example
 * parseCommand('/deploy production --dry-run'); // { kind: 'command', command: { name: 'deploy', environment: 'production', dryRun: true, force: false } }
 * parseCommand('/lock production "db migration"'); // { kind: 'command', command: { name: 'lock', environment: 'production', reason: 'db migration' } }
 * parseCommand('Let us /deploy later');           // undefined
 */
import { closestWord } from '../../config-schema/closest-word.js';

export type Command =
  | { name: 'deploy'; environment: string; dryRun: boolean; force: boolean }
  | { name: 'rollback'; environment: string }
  | { name: 'continue'; environment: string }
  | { name: 'lock'; environment?: string; global: boolean; reason?: string }
  | { name: 'unlock'; environment?: string; global: boolean }
  | { name: 'status' }
  | { name: 'help' };

export type ParsedComment =
  | { kind: 'command'; command: Command }
  /** Looks like a command but is not right: the reply explains, with the usage. */
  | { kind: 'invalid'; name: string; message: string }
  /** A slash word that is no BitEnvoy command, e.g. `/deplyo`. */
  | { kind: 'unknown'; word: string };

export const COMMAND_USAGE: Record<Command['name'], string> = {
  deploy: '`/deploy <environment>` deploys this pull request’s head commit; `--dry-run` shows the plan, `--force` skips red checks (if allowed)',
  rollback: '`/rollback <environment>` deploys again the last commit that succeeded there before the current one',
  continue: '`/continue <environment>` lets a rollout paused between batches (a canary, a manual gate) go on',
  lock: '`/lock <environment> [reason]` or `/lock --global [reason]` stops every deployment until unlocked',
  unlock: '`/unlock <environment>` or `/unlock --global` releases a lock',
  status: '`/status` shows, per environment, the commit deployed, when, by whom, its state and any lock',
  help: '`/help` lists the commands and this repository’s environments',
};

const FLAGS: Record<Command['name'], string[]> = { deploy: ['--dry-run', '--force'], rollback: [], continue: [], lock: ['--global'], unlock: ['--global'], status: [], help: [] };

/** Commands we answer to; a slash word close to one of these is an unknown command, anything else is not ours. */
const NAMES = Object.keys(COMMAND_USAGE) as Array<Command['name']>;

export function parseCommand(body: string): ParsedComment | undefined {
  const firstLine = body.replace(/^\uFEFF/, '').split(/\r?\n/).find((l) => l.trim() !== '');
  if (!firstLine) return undefined;
  // Markdown: four spaces (or a tab) of indentation make the line an indented code block — shown, not said.
  if (/^(?: {0,3}\t| {4})/.test(firstLine)) return undefined;
  const line = firstLine.trim();
  // A code block, a quote or inline code is talk about a command, not a command.
  if (!line.startsWith('/')) return undefined;
  const words = tokenize(line);
  if ('error' in words) return { kind: 'invalid', name: line.split(/\s/)[0]!.slice(1).toLowerCase(), message: words.error };
  const word = words.tokens[0]!.slice(1).toLowerCase();
  const name = NAMES.find((n) => n === word);
  if (!name) return /^[a-z][a-z-]{1,20}$/.test(word) && looksLikeOurs(word) ? { kind: 'unknown', word } : undefined;
  const args = words.tokens.slice(1);
  const flags = args.filter((a) => a.startsWith('--'));
  const bad = flags.find((f) => !FLAGS[name].includes(f.toLowerCase()));
  if (bad) {
    const known = FLAGS[name];
    return { kind: 'invalid', name, message: `\`${bad}\` is not an option of \`/${name}\`${known.length ? `; it takes ${known.map((f) => `\`${f}\``).join(', ')}` : '; it takes none'}` };
  }
  const has = (flag: string) => flags.some((f) => f.toLowerCase() === flag);
  const plain = args.filter((a) => !a.startsWith('--'));
  const missingEnvironment = { kind: 'invalid' as const, name, message: `\`/${name}\` needs an environment: ${COMMAND_USAGE[name]}` };
  switch (name) {
    case 'deploy':
    case 'rollback':
    case 'continue': {
      if (plain.length === 0) return missingEnvironment;
      if (plain.length > 1) return { kind: 'invalid', name, message: `\`/${name}\` takes one environment, got ${plain.map((p) => `\`${p}\``).join(' ')}` };
      return name === 'deploy'
        ? { kind: 'command', command: { name, environment: plain[0]!, dryRun: has('--dry-run'), force: has('--force') } }
        : { kind: 'command', command: { name, environment: plain[0]! } };
    }
    case 'lock':
    case 'unlock': {
      const global = has('--global');
      const [environment, ...rest] = global ? [undefined, ...plain] : plain;
      if (!global && !environment) return { kind: 'invalid', name, message: `\`/${name}\` needs an environment or \`--global\`: ${COMMAND_USAGE[name]}` };
      if (name === 'unlock') {
        if (rest.length) return { kind: 'invalid', name, message: '`/unlock` takes only an environment or `--global`' };
        return { kind: 'command', command: { name, global, ...(environment ? { environment } : {}) } };
      }
      const reason = rest.join(' ').trim();
      return { kind: 'command', command: { name, global, ...(environment ? { environment } : {}), ...(reason ? { reason: reason.slice(0, 500) } : {}) } };
    }
    default:
      if (plain.length || flags.length) return { kind: 'invalid', name, message: `\`/${name}\` takes no arguments` };
      return { kind: 'command', command: { name } };
  }
}

/** Splits on spaces, keeping "quoted text" and 'quoted text' as one word. */
function tokenize(line: string): { tokens: string[] } | { error: string } {
  const tokens: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    if (m[3] !== undefined && /^["']/.test(m[3])) return { error: `a quote in \`${m[3]}\` is never closed: write the reason as "…"` };
    tokens.push(m[1] ?? m[2] ?? m[3]!);
  }
  return { tokens };
}

/** `/deplyo`, `/lokc`, `/dep`: close to a command, so the person meant us. */
function looksLikeOurs(word: string): boolean {
  return closestWord(word, NAMES) !== undefined || NAMES.some((n) => n.startsWith(word) || word.startsWith(n));
}
