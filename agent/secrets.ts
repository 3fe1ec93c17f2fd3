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
import { findSecretReferences } from './find-secret-references.js';
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
 * Resolves a step's secret references: in `run` each becomes an expansion of `BITENVOY_SECRET_<NAME>` (the value is
 * in the step's environment, never on its command line) written for where the reference stands — unquoted, in
 * `"…"` or `'…'`, inside `$(…)` or backquotes (where quoting starts afresh), in `${v:-…}`, in a here-document — so
 * it yields exactly the value as one word: no splitting, no globbing, nothing in it expanded. A reference in a
 * comment is left as written. In `env` values it is put in place. Only the secrets a step references reach its
 * environment. A reference to an unknown secret, or one in a place where no expansion yields the value as text (see
 * findSecretReferences), is an error that says how to write it instead.
 *
 * @example
 * bindSecrets({ name: 'm', run: 'migrate --url ${{ secrets.DB }}' }, secrets, file).run; // 'migrate --url "${BITENVOY_SECRET_DB}"'
 * bindSecrets({ name: 'm', run: 'echo "$(cat "${{ secrets.F }}")"' }, secrets, file).run; // 'echo "$(cat "${BITENVOY_SECRET_F}")"'
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
  let run = '';
  let done = 0;
  // Only a script that references a secret is scanned: one without is run exactly as written.
  const sites = step.run.search(SECRET_REFERENCE) === -1 ? [] : findSecretReferences(step.run);
  for (const site of sites) {
    if (site.place.kind === 'comment') continue;
    if (site.place.kind === 'refused') {
      throw new BitEnvoyError('BE_INSTRUCTIONS_INVALID', `step \`${step.name}\`: \`\${{ secrets.${site.name} }}\` at line ${site.line} of \`run\` ${site.place.problem}`);
    }
    const variable = secretVariable(site.name);
    env[variable] = resolveName(site.name);
    run += step.run.slice(done, site.offset) + expansion(variable, site.place.kind);
    done = site.offset + site.length;
  }
  run += step.run.slice(done);
  for (const [key, value] of Object.entries(step.env ?? {})) env[key] = value.replace(SECRET_REFERENCE, (_m, name: string) => resolveName(name));
  return { run, env };
}

/** The variable's expansion as one word, for where it stands: quotes closed and reopened around it where needed. */
function expansion(variable: string, place: 'unquoted' | 'double' | 'single'): string {
  if (place === 'double') return `\${${variable}}`;
  if (place === 'single') return `'"\${${variable}}"'`;
  return `"\${${variable}}"`;
}
