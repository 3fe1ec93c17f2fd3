import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';
import { parseInstructions } from '../../config-schema/load-instructions.js';
import { formatIssues, validateConfigDir } from '../../config-schema/validate-config-dir.js';
import { print } from '../output.js';
import { synopsis } from '../command-registry.js';
import { parseCommand } from './parse-options.js';

/**
 * `bitenvoy validate [dir]`: a config repo checkout (a folder with `groups.yml`), or an instruction file (a path to a
 * `.yml` file, or a folder with `bitenvoy.yml` and no `groups.yml`). Prints every problem with file, line and a
 * hint; exit 1 when there is any error.
 */
export async function validateCommand(args: string[]): Promise<number> {
  const { positionals } = parseCommand('validate', args);
  if (positionals.length > 1) throw new BitEnvoyError('BE_USAGE', `give one folder or file\nusage: ${synopsis('validate')}`);
  const target = resolve(positionals[0] ?? '.');
  const info = await stat(target).catch(() => undefined);
  if (!info) throw new BitEnvoyError('BE_USAGE', `${target} does not exist\nusage: ${synopsis('validate')}`);
  let file: string | undefined;
  if (info.isFile()) file = target;
  else if (!existsSync(join(target, 'groups.yml')) && existsSync(join(target, 'bitenvoy.yml'))) file = join(target, 'bitenvoy.yml');

  const result = file
    ? parseInstructions(await readFile(file, 'utf8'), file)
    : await validateConfigDir(target);
  const issues = [...result.errors, ...result.warnings];
  if (issues.length) print(formatIssues(issues));
  const what = file ? `instruction file ${file}` : `config repo ${target}`;
  if (result.errors.length) {
    print(`${what}: ${result.errors.length} error(s), ${result.warnings.length} warning(s)`);
    return 1;
  }
  print(`${what}: valid${result.warnings.length ? ` (${result.warnings.length} warning(s))` : ''}`);
  return 0;
}
