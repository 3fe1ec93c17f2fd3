/**
 * The `current` link of a release layout, switched so that readers see the old or the new release.
 *
 * Unix: a new relative symlink is renamed over the old one — rename(2) replaces it atomically, so `current` never
 * goes missing. Windows: `current` is a directory junction (it needs no privilege, unlike a symlink, and must hold
 * an absolute target). Windows cannot rename anything over an existing directory or junction, so the least-gap way
 * left is: make the new junction beside it, try renaming it over (in case the file system allows it), else rename
 * the old junction aside and the new one into place — two renames of links, microseconds apart — then delete the old
 * one. THE REMAINING GAP: between those two renames a reader on Windows can find `current` missing; a reader that
 * retries briefly never notices. If the agent dies in that gap, `current` stays missing until the next switch, and
 * {@link readReleaseLink} reads the link set aside, so pruning still spares that release.
 *
 * @example
 * await switchReleaseLink('/srv/apps/acme/shop/prod/current', 'releases/job_2'); // Linux: symlink → releases/job_2
 */
import * as fsp from 'node:fs/promises';
import { basename, dirname, join, posix, resolve, win32 } from 'node:path';

/** The file-system calls the switch makes (tests give Windows' rename rules to the real file system). */
export interface LinkFs {
  symlink(target: string, path: string, type?: 'dir' | 'file' | 'junction'): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readlink(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
}

const nodeFs: LinkFs = {
  symlink: (target, path, type) => fsp.symlink(target, path, type),
  rename: fsp.rename,
  unlink: fsp.unlink,
  readlink: (path) => fsp.readlink(path),
  readdir: (path) => fsp.readdir(path),
};

export interface LinkOptions {
  platform?: NodeJS.Platform;
  fs?: LinkFs;
  /** Names the temporary links (default: the agent's pid), so two switches never share one. */
  tag?: string;
}

/**
 * Points `link` at `target` (relative to the link's directory), replacing what it pointed at.
 *
 * @example
 * await switchReleaseLink(join(base, 'current'), join('releases', jobId), { platform: 'win32' }); // a junction
 */
export async function switchReleaseLink(link: string, target: string, options: LinkOptions = {}): Promise<void> {
  const platform = options.platform ?? process.platform;
  const fs = options.fs ?? nodeFs;
  const tag = options.tag ?? String(process.pid);
  const temp = `${link}.${tag}.tmp`;
  await fs.unlink(temp).catch(ignoreMissing);
  if (platform !== 'win32') {
    await fs.symlink(target, temp);
    await fs.rename(temp, link);
    return;
  }
  // A junction holds an absolute path: resolved against the link's own directory (with this machine's path rules).
  await fs.symlink(resolve(dirname(link), target), temp, 'junction');
  try {
    await fs.rename(temp, link);
    return;
  } catch (err) {
    if (!isReplaceRefused(err)) throw err;
  }
  const aside = `${link}.${tag}.old`;
  await fs.unlink(aside).catch(ignoreMissing);
  await fs.rename(link, aside);
  try {
    await fs.rename(temp, link);
  } catch (err) {
    await fs.rename(aside, link).catch(() => undefined);
    throw err;
  }
  await fs.unlink(aside).catch(ignoreMissing);
}

/**
 * The name of the release directory `link` points at (a relative symlink or an absolute junction target alike), or
 * undefined when there is none. A link set aside by a switch that was interrupted counts when `link` is missing.
 *
 * @example
 * await readReleaseLink('C:\\bitenvoy\\apps\\acme\\shop\\prod\\current', { platform: 'win32' }); // 'job_2'
 */
export async function readReleaseLink(link: string, options: LinkOptions = {}): Promise<string | undefined> {
  const platform = options.platform ?? process.platform;
  const fs = options.fs ?? nodeFs;
  // A junction's target is a Windows path (`C:\\…\\releases\\job_2\\`): its last part is read with Windows' rules.
  const targetPath = platform === 'win32' ? win32 : posix;
  const name = (target: string) => targetPath.basename(target.replace(/[\\/]+$/, '')) || undefined;
  const target = await fs.readlink(link).catch(() => undefined);
  if (target !== undefined) return name(target);
  const prefix = `${basename(link)}.`;
  const leftovers = (await fs.readdir(dirname(link)).catch(() => [] as string[])).filter((entry) => entry.startsWith(prefix) && entry.endsWith('.old'));
  for (const entry of leftovers) {
    const aside = await fs.readlink(join(dirname(link), entry)).catch(() => undefined);
    if (aside !== undefined) return name(aside);
  }
  return undefined;
}

/** What Windows answers when a rename would replace a directory or junction. */
function isReplaceRefused(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPERM' || code === 'EACCES' || code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'EISDIR';
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
