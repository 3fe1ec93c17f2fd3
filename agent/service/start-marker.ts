/**
 * `<dir>/agent.started`: written by `bitenvoy agent run` once its configuration has loaded, just before it polls.
 * `bitenvoy agent upgrade` reads it to know that the new executable really started (its version, after the restart),
 * not merely that the service manager has a process.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const START_MARKER = 'agent.started';

export interface StartMarker {
  pid: number;
  version: string;
  /** ISO time. */
  startedAt: string;
}

/**
 * Writes the marker for this process.
 *
 * @example
 * await writeStartMarker('/var/lib/bitenvoy-agent', '0.2.0');
 */
export async function writeStartMarker(dir: string, version: string): Promise<void> {
  const marker: StartMarker = { pid: process.pid, version, startedAt: new Date().toISOString() };
  await writeFile(join(dir, START_MARKER), JSON.stringify(marker) + '\n', { mode: 0o644 });
}

/**
 * The marker, or undefined when there is none or it cannot be read.
 *
 * @example
 * (await readStartMarker(dir))?.version; // '0.2.0'
 */
export async function readStartMarker(dir: string): Promise<StartMarker | undefined> {
  try {
    const value = JSON.parse(await readFile(join(dir, START_MARKER), 'utf8')) as Partial<StartMarker>;
    if (typeof value.pid !== 'number' || typeof value.version !== 'string' || typeof value.startedAt !== 'string') return undefined;
    return { pid: value.pid, version: value.version, startedAt: value.startedAt };
  } catch {
    return undefined;
  }
}
