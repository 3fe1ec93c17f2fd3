/**
 * Keeps the agent's own files from the users steps run as. At start: the agent directory 0711 (traversable, so a
 * step reaches its release, but not listable), its credential, rules, secrets and journal files 0600, its internal
 * folders 0700 — wider modes an older install left are tightened, and each one said. Per job: the application's
 * folder belongs to the agent with the step user's group, 0750 (another application's user cannot enter it), and
 * the release directory to the step user.
 *
 * @example
 * for (const line of await tightenAgentDir(dir, join(dir, 'secrets.yml'))) log.warn(line);
 * await fenceRelease(paths, { uid: 998, gid: 998 });
 */
import { chmod, chown, lchown, lstat, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ReleasePaths } from '../releases.js';

/** Files and folders of the agent directory and the mode each must have at most. */
const PRIVATE: Array<[string, number]> = [
  ['agent.json', 0o600],
  ['agent.yml', 0o600],
  ['.agent-yml.checked.json', 0o600],
  ['journal', 0o700],
  ['git', 0o700],
  ['artifacts', 0o700],
  ['apps', 0o711],
];

/**
 * Takes group and other bits beyond `mode` off `path` (never widens); returns a line saying what changed, if anything.
 */
async function tighten(path: string, mode: number, root: string): Promise<string | undefined> {
  const info = await lstat(path).catch(() => undefined);
  if (!info || info.isSymbolicLink()) return undefined;
  const now = info.mode & 0o7777;
  const wanted = now & (mode | 0o700);
  if (now === wanted) return undefined;
  await chmod(path, wanted);
  return `${relative(root, path) || root}: ${octal(now)} → ${octal(wanted)}`;
}

const octal = (mode: number) => `0${mode.toString(8)}`;

/**
 * Makes the agent directory private (see the file comment); returns what was changed, one line per path (relative to
 * `dir`). `traversable`: steps run as other users, who must be able to search `dir`.
 */
export async function tightenAgentDir(dir: string, secretsFile: string, options: { traversable?: boolean } = {}): Promise<string[]> {
  const changed: Array<string | undefined> = [await tighten(dir, 0o711, dir)];
  // Steps run as another user reach their release through it: exactly 0711 then (enrollment made it 0700).
  if (options.traversable && ((await lstat(dir)).mode & 0o7777) !== 0o711) {
    await chmod(dir, 0o711);
    changed.push(`${dir}: 0711 (searchable by the users steps run as, not listable)`);
  }
  for (const [name, mode] of PRIVATE) changed.push(await tighten(join(dir, name), mode, dir));
  changed.push(await tighten(secretsFile, 0o600, dir));
  for (const name of await readdir(join(dir, 'journal')).catch(() => [])) changed.push(await tighten(join(dir, 'journal', name), 0o600, dir));
  return changed.filter((line) => line !== undefined);
}

/**
 * Fences an application's release off other users: `apps/<owner>/<name>` 0711; the environment's folder and its
 * `releases/` the agent's, 0750 with the step user's group (0700 when steps run as the agent); and the release itself,
 * every file of it, the step user's. The agent keeps the folders above the release, so a step can never swap one for
 * a symbolic link the agent would then follow while pruning.
 */
export async function fenceRelease(paths: ReleasePaths, user: { uid: number; gid: number } | undefined): Promise<void> {
  const nameDir = join(paths.base, '..');
  for (const dir of [join(nameDir, '..', '..'), join(nameDir, '..'), nameDir]) await chmod(dir, 0o711);
  const agentUid = process.getuid?.() ?? 0;
  const agentGid = process.getgid?.() ?? 0;
  for (const dir of [paths.base, paths.releases]) {
    await chown(dir, agentUid, user ? user.gid : agentGid);
    await chmod(dir, user ? 0o750 : 0o700);
  }
  if (user) await chownTree(paths.release, user.uid, user.gid);
}

/** chown -R without following symbolic links (a link is changed itself, never what it points at). */
async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await lchown(path, uid, gid);
  const info = await lstat(path);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(path)) await chownTree(join(path, entry), uid, gid);
}
