/**
 * The check every hostile-archive test makes: the archive is refused with a `BE_ARTIFACT` BitEnvoyError, and its
 * box holds only the archive afterwards — no release, no temporary directory, nothing written beside them — and
 * nothing reached the path the hostile archives aim at outside.
 */
import { lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { BitEnvoyError } from '../../../lib/errors.js';
import { unpackArchive, type UnpackOptions } from '../../../agent/artifacts/unpack-archive.js';

/** Where the hostile archives try to write outside their release. */
export const ESCAPE_PATH = '/tmp/x-bitenvoy-escaped';
let count = 0;

/**
 * Unpacks `bytes` in a new box under `dir`; returns the refusal.
 *
 * @example
 * expect((await expectRefusal(dir, tarArchive({ name: '../x' }))).message).toContain('entry `../x`');
 */
export async function expectRefusal(dir: string, bytes: Buffer, options: UnpackOptions = {}, name = 'artifact.bin'): Promise<BitEnvoyError> {
  const box = join(dir, `case-${++count}`);
  await mkdir(box);
  await writeFile(join(box, name), bytes);
  const err = await unpackArchive(join(box, name), join(box, 'release'), options).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BitEnvoyError);
  expect((err as BitEnvoyError).code).toBe('BE_ARTIFACT');
  expect(await readdir(box)).toEqual([name]);
  await expect(lstat(ESCAPE_PATH)).rejects.toThrow(/ENOENT/);
  return err as BitEnvoyError;
}
