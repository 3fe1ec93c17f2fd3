/**
 * Putting a new agent executable in place of the running one, so that at every moment the path holds a whole
 * executable (old or new), and putting the previous one back.
 *
 * POSIX: the previous file is kept as `<exe>.previous` (a hard link, or a copy across file systems), then the new
 * file, written beside the old one and flushed, is renamed over it — one atomic step; the running process keeps its
 * old inode. Windows cannot replace a running executable, but can rename it: it becomes `<exe>.old`, then the new
 * one is renamed into place.
 */
import { copyFile, link, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Flushes a folder's entries (a rename) to disk; not possible, nor needed, on Windows. */
async function syncFolder(path: string, platform: NodeJS.Platform): Promise<void> {
  if (platform === 'win32') return;
  const handle = await open(dirname(path), 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Where the previous executable is kept. */
export function previousPath(executable: string, platform: NodeJS.Platform = process.platform): string {
  return `${executable}${platform === 'win32' ? '.old' : '.previous'}`;
}

/**
 * Moves `fresh` (in the same folder) into `executable`'s place, keeping the previous one at {@link previousPath}.
 *
 * @example
 * await swapExecutable('/usr/local/bin/bitenvoy-agent', '/usr/local/bin/bitenvoy-agent.new');
 */
export async function swapExecutable(executable: string, fresh: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  const previous = previousPath(executable, platform);
  await rm(previous, { force: true });
  if (platform === 'win32') {
    await rename(executable, previous);
    await rename(fresh, executable);
    return;
  }
  await link(executable, previous).catch(() => copyFile(executable, previous));
  await rename(fresh, executable);
  await syncFolder(executable, platform);
}

/**
 * Puts the previous executable back in `executable`'s place (after a new one failed to start).
 *
 * @example
 * await restorePrevious('/usr/local/bin/bitenvoy-agent');
 */
export async function restorePrevious(executable: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  const previous = previousPath(executable, platform);
  if (platform === 'win32') {
    await rename(executable, `${executable}.failed`).catch(() => undefined);
    await rename(previous, executable);
    return;
  }
  await rename(previous, executable);
  await syncFolder(executable, platform);
}
