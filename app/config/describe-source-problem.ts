/**
 * Says why a config repo source cannot be read, for the cases git explains badly: a local path that does not exist,
 * or a folder that is not a git repository (git would happily use a parent folder's repository instead).
 *
 * @example
 * await describeSourceProblem('/srv/nope'); // 'config repo /srv/nope does not exist'
 */
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { git } from '../../lib/git.js';

export async function describeSourceProblem(source: string): Promise<string | undefined> {
  const path = source.startsWith('file://') ? fileURLToPath(source) : isAbsolute(source) ? source : undefined;
  if (path === undefined) return undefined;
  if (!existsSync(path)) return `config repo ${path} does not exist`;
  const own = await realpath(path);
  const gitDir = await git(path)
    .raw(['rev-parse', '--absolute-git-dir'])
    .then((out) => realpath(out.trim()))
    .catch(() => undefined);
  if (gitDir !== own && gitDir !== join(own, '.git')) return `config repo ${path} is not a git repository`;
  return undefined;
}
