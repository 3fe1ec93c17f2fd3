/**
 * The agent's local secrets: a flat YAML map `NAME: value` in `secrets.yml` that never leaves the server (bindSecrets
 * in secrets.ts gives each step the ones it references). Apart from secrets.ts so that an idle agent loads only this.
 *
 * @example
 * const secrets = await loadSecrets('/var/lib/bitenvoy-agent/secrets.yml', log);
 */
import { readFile, stat } from 'node:fs/promises';
import { BitEnvoyError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { MIN_SECRET_LENGTH } from './redact.js';

/**
 * Reads the secrets file (none is an empty map). A file others can read is warned about; a value too short to be
 * redacted too. Bad YAML or a bad name is an error saying how to write it.
 */
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
