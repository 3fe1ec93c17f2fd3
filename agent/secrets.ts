/**
 * The agent's local secrets: a flat YAML map `NAME: value` that never leaves the server. Steps get only the
 * secrets they reference, through environment variables, so values never appear on a command line.
 *
 * @example
 * const secrets = await loadSecrets('/var/lib/bitenvoy-agent/secrets.yml', log);
 * const { run, env } = bindSecrets(step, secrets); // throws if a referenced secret is missing
 */
import { readFile, stat } from 'node:fs/promises';
import { BitEnvoyError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { SECRET_REFERENCE } from '../config-schema/secret-reference.js';
import type { Step } from '../config-schema/types.generated.js';
import { MIN_SECRET_LENGTH } from './redact.js';

export async function loadSecrets(file: string, log: Logger): Promise<Map<string, string>> {
  const info = await stat(file).catch(() => undefined);
  if (!info) return new Map();
  if ((info.mode & 0o077) !== 0) log.warn(`${file} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run: chmod 600 ${file}`);
  let data: unknown;
  try {
    const { parse } = await import('yaml');
    data = parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new BitEnvoyError('BE_USAGE', `${file}: not valid YAML (${(err as Error).message.split('\n')[0]}); write one \`NAME: value\` per line`);
  }
  if (data === null || data === undefined) return new Map();
  if (typeof data !== 'object' || Array.isArray(data)) throw new BitEnvoyError('BE_USAGE', `${file}: expected a map of NAME: value`);
  const secrets = new Map<string, string>();
  for (const [name, value] of Object.entries(data)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new BitEnvoyError('BE_USAGE', `${file}: \`${name}\` is not a valid secret name (letters, digits, underscores)`);
    if (typeof value !== 'string' && typeof value !== 'number') throw new BitEnvoyError('BE_USAGE', `${file}: the value of ${name} must be a string`);
    if (String(value).length < MIN_SECRET_LENGTH) log.warn(`secret ${name} is shorter than ${MIN_SECRET_LENGTH} characters and cannot be redacted from logs`);
    secrets.set(name, String(value));
  }
  return secrets;
}

/** The variable a secret reference in `run` expands to. */
export function secretVariable(name: string): string {
  return `BITENVOY_SECRET_${name}`;
}

/**
 * Resolves a step's secret references: in `run` each becomes a quoted expansion of `BITENVOY_SECRET_<NAME>` (the
 * value is in the step's environment, never on its command line); in `env` values it is put in place. Only the
 * secrets a step references reach its environment. A reference to an unknown secret is an error naming it.
 *
 * @example
 * bindSecrets({ name: 'm', run: 'migrate --url ${{ secrets.DB }}' }, secrets, file).run; // 'migrate --url "${BITENVOY_SECRET_DB}"'
 */
export function bindSecrets(step: Step, secrets: Map<string, string>, secretsFile: string): { run: string; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const resolveName = (name: string): string => {
    const value = secrets.get(name);
    if (value === undefined) {
      throw new BitEnvoyError('BE_INSTRUCTIONS_INVALID', `step \`${step.name}\` uses secrets.${name}, which is not in ${secretsFile}; add \`${name}: …\` there on this server`);
    }
    return value;
  };
  const run = step.run.replace(SECRET_REFERENCE, (_m, name: string, offset: number) => {
    env[secretVariable(name)] = resolveName(name);
    return expansion(secretVariable(name), quoteContext(step.run, offset));
  });
  for (const [key, value] of Object.entries(step.env ?? {})) env[key] = value.replace(SECRET_REFERENCE, (_m, name: string) => resolveName(name));
  return { run, env };
}

/**
 * The variable's expansion as one word, whatever quotes the reference was written in: a value with spaces or `*`
 * stays one argument, and a reference inside single quotes still expands.
 */
function expansion(variable: string, context: QuoteContext): string {
  if (context === 'double' || context === 'heredoc') return `\${${variable}}`;
  if (context === 'single') return `'"\${${variable}}"'`;
  return `"\${${variable}}"`;
}

type QuoteContext = 'none' | 'double' | 'single' | 'heredoc';

/**
 * Which shell quoting is open at `offset` of `script`: quotes (backslash escapes honoured), comments, and here-
 * document bodies (where quotes are plain characters and `${VAR}` expands bare).
 */
function quoteContext(script: string, offset: number): QuoteContext {
  let context: QuoteContext = 'none';
  const heredocs: Array<{ word: string; tabs: boolean }> = [];
  for (let i = 0; i < offset; i++) {
    const c = script[i];
    if (context === 'single') {
      if (c === "'") context = 'none';
    } else if (c === '\\') {
      i++;
    } else if (c === '"') {
      context = context === 'double' ? 'none' : 'double';
    } else if (context === 'double') {
      continue;
    } else if (c === "'") {
      context = 'single';
    } else if (c === '#' && (i === 0 || /\s/.test(script[i - 1]!))) {
      // A comment runs to the end of its line: quotes in it mean nothing.
      const end = script.indexOf('\n', i);
      if (end === -1 || end >= offset) break;
      i = end - 1;
    } else if (c === '<' && script[i + 1] === '<' && script[i + 2] !== '<') {
      const match = /^<<(-?)\s*(['"]?)([A-Za-z0-9_.-]+)\2/.exec(script.slice(i));
      if (match) {
        heredocs.push({ word: match[3]!, tabs: match[1] === '-' });
        i += match[0].length - 1;
      }
    } else if (c === '\n' && heredocs.length) {
      // The bodies of the here-documents opened on this line follow it, one after the other.
      let at = i + 1;
      for (const doc of heredocs.splice(0)) {
        for (;;) {
          const end = script.indexOf('\n', at);
          const line = script.slice(at, end === -1 ? script.length : end);
          if (offset >= at && offset <= at + line.length) return (doc.tabs ? line.replace(/^\t+/, '') : line) === doc.word ? 'none' : 'heredoc';
          if ((doc.tabs ? line.replace(/^\t+/, '') : line) === doc.word || end === -1) {
            at = end === -1 ? script.length : end + 1;
            break;
          }
          at = end + 1;
        }
      }
      i = at - 1;
    }
  }
  return context;
}
