/**
 * `bitenvoy hub` runs Node with a small young generation (cli/bitenvoy.ts): the same process (its pid is the one that
 * was started), the flag on its command line, and the operator's own choice in NODE_OPTIONS left alone. Linux only:
 * it reads /proc.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startHubProcess, type HubProcess } from '../../testbed/processes.js';

const started: HubProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(started.map((hub) => hub.stop()));
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function commandLine(env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-heap-'));
  dirs.push(dir);
  const hub = await startHubProcess({ dataDir: join(dir, 'hub'), env });
  started.push(hub);
  // The process that answers /livez is the one spawned: execve keeps the pid.
  return (await readFile(`/proc/${hub.child.pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
}

describe.runIf(process.platform === 'linux')('the hub process', () => {
  it('runs with a young generation of 4 MB per semi-space, in the process that was started', async () => {
    const argv = await commandLine();
    expect(argv).toContain('--max-semi-space-size=4');
    expect(argv.filter((a) => a.includes('semi-space')).length).toBe(1);
    expect(argv.at(-1)).toBe('hub');
  });

  it('keeps the size an operator chose in NODE_OPTIONS', async () => {
    const argv = await commandLine({ NODE_OPTIONS: '--max-semi-space-size=16' });
    expect(argv.some((a) => a.includes('semi-space'))).toBe(false);
  });
});
