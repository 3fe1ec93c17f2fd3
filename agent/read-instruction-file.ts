/**
 * Reads a job's instruction file from its release, and only from there. The path comes from the hub, and the file
 * from the commit: a `..` in the one or a symlink in the other could otherwise make the agent read a file of the
 * server (its secrets file, `/etc/passwd`) and send pieces of it to the hub in validation errors.
 *
 * @example
 * const read = await readInstructionFile('/srv/agent/apps/acme/shop/prod/releases/job_1', 'bitenvoy.yml');
 * if ('problem' in read) … else parseInstructions(read.text, 'bitenvoy.yml');
 */
import { lstat, readFile, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { MAX_CONFIG_FILE_BYTES } from '../config-schema/validate-yaml-file.js';

export type InstructionRead = { text: string } | { problem: string; missing?: boolean };

/**
 * The instruction file's text, or why it cannot be read: missing, outside the release (by path or by symlink), not a
 * regular file, or too large. Nothing outside the release is ever opened.
 */
export async function readInstructionFile(releaseDir: string, instructions: string): Promise<InstructionRead> {
  const root = await realpath(releaseDir);
  const target = resolve(root, instructions);
  if (!isInside(root, target)) return { problem: `the instruction file path \`${instructions}\` leads outside the commit; it must be a relative path inside the repository` };
  const real = await realpath(target).catch(() => undefined);
  if (real === undefined) {
    const link = await lstat(target).catch(() => undefined);
    return link?.isSymbolicLink() ? { problem: `\`${instructions}\` is a symlink that leads nowhere inside the commit; the instruction file must be a regular file` } : { problem: `no ${instructions}`, missing: true };
  }
  if (!isInside(root, real)) return { problem: `\`${instructions}\` is a symlink that leads outside the commit; the instruction file must be a regular file inside the repository` };
  const info = await lstat(real);
  if (!info.isFile()) return { problem: `\`${instructions}\` is not a regular file; the instruction file must be one` };
  if (info.size > MAX_CONFIG_FILE_BYTES) return { problem: `\`${instructions}\` is ${Math.ceil(info.size / 1024)} KiB, larger than the ${MAX_CONFIG_FILE_BYTES / 1024} KiB an instruction file may be` };
  return { text: await readFile(real, 'utf8') };
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !isAbsolute(rel) && rel !== '..' && !rel.startsWith('../');
}
