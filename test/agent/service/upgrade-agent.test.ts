/**
 * `upgradeAgent` with real files, a real loopback HTTP server serving a release folder, and a real process
 * supervisor standing in for systemd (this machine runs none): the "executables" are small shell scripts that print
 * their version and, when run as the agent, write the start marker and stay up (or exit at once, for a broken one).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceControl } from '../../../agent/service/service-plan.js';
import { readStartMarker } from '../../../agent/service/start-marker.js';
import { upgradeAgent } from '../../../agent/service/upgrade-agent.js';

const FILE = 'bitenvoy-agent-linux-x64';

/** A fake agent executable: `--version` prints it; `agent run --dir D` writes D/agent.started and sleeps (or fails). */
function fakeAgent(version: string, starts = true): string {
  const run = starts
    ? `printf '{"pid":%s,"version":"${version}","startedAt":"%s"}\\n' "$$" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" > "$4/agent.started"; exec sleep 60`
    : 'echo "cannot start" >&2; exit 1';
  return `#!/bin/sh\nif [ "$1" = --version ]; then echo ${version}; exit 0; fi\n${run}\n`;
}

/** A supervisor of our own: runs `<exe> agent run --dir DIR`, restart = stop and start again. */
class Supervisor implements ServiceControl {
  readonly describe = 'the test supervisor';
  #child: ChildProcess | undefined;
  readonly #executable: string;
  readonly #dir: string;
  constructor(executable: string, dir: string) {
    this.#executable = executable;
    this.#dir = dir;
  }
  async restart(): Promise<void> {
    await this.stop();
    this.#child = spawn(this.#executable, ['agent', 'run', '--dir', this.#dir], { stdio: 'ignore' });
    this.#child.on('error', () => undefined);
  }
  async isRunning(): Promise<boolean> {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  }
}

let root: string;
let release: string;
let bin: string;
let dir: string;
let server: Server;
let url: string;
let supervisor: Supervisor;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-upgrade-'));
  release = join(root, 'release');
  bin = join(root, 'bin', 'bitenvoy-agent');
  dir = join(root, 'agent');
  await Promise.all([mkdir(release), mkdir(join(root, 'bin')), mkdir(dir)]);
  await writeFile(bin, fakeAgent('0.1.0'), { mode: 0o755 });
  server = createServer((req, res) => {
    readFile(join(release, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))).then(
      (body) => res.end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  url = `http://127.0.0.1:${address.port}/`;
  supervisor = new Supervisor(bin, dir);
  await supervisor.restart();
});

afterEach(async () => {
  await supervisor.stop();
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

/** Puts an executable in the release with SHA256SUMS naming `sha256` (its own by default). */
async function publish(text: string, sha256 = createHash('sha256').update(text).digest('hex')): Promise<void> {
  await writeFile(join(release, FILE), text);
  await writeFile(join(release, 'SHA256SUMS'), `${'0'.repeat(64)}  bitenvoy-agent-win-x64.exe\n${sha256}  ${FILE}\n`);
}

function upgrade(from = url) {
  return upgradeAgent({ from, executable: bin, dir, control: supervisor, deadlineMs: 5000, settleMs: 300, platform: 'linux', arch: 'x64' });
}

describe('agent upgrade', () => {
  it('swaps in a release whose SHA-256 matches and restarts: the new agent runs, the previous is kept', async () => {
    await publish(fakeAgent('0.2.0'));
    expect(await upgrade()).toEqual({ from: '0.1.0', to: '0.2.0' });
    expect(await readFile(bin, 'utf8')).toBe(fakeAgent('0.2.0'));
    expect(await readFile(`${bin}.previous`, 'utf8')).toBe(fakeAgent('0.1.0'));
    expect((await readStartMarker(dir))?.version).toBe('0.2.0');
    expect(await supervisor.isRunning()).toBe(true);
  });

  it('takes a local release folder too', async () => {
    await publish(fakeAgent('0.2.0'));
    expect(await upgrade(release)).toEqual({ from: '0.1.0', to: '0.2.0' });
  });

  it('refuses a file that does not match its SHA-256; nothing changes, the old agent keeps running', async () => {
    await publish(fakeAgent('0.2.0'), 'a'.repeat(64));
    const marker = await waitForMarker('0.1.0');
    await expect(upgrade()).rejects.toThrow(`${FILE} does not match its SHA-256 in ${url}SHA256SUMS (expected ${'a'.repeat(64)}, got `);
    expect(await readFile(bin, 'utf8')).toBe(fakeAgent('0.1.0'));
    expect(await readStartMarker(dir)).toEqual(marker);
    expect(await supervisor.isRunning()).toBe(true);
  });

  it('refuses a release that lists no file for this platform', async () => {
    await writeFile(join(release, 'SHA256SUMS'), `${'0'.repeat(64)}  bitenvoy-agent-win-x64.exe\n`);
    await expect(upgrade()).rejects.toThrow(`${url}SHA256SUMS lists no SHA-256 for ${FILE}`);
    expect(await readFile(bin, 'utf8')).toBe(fakeAgent('0.1.0'));
  });

  it('refuses a download that does not answer --version with a version', async () => {
    await publish('#!/bin/sh\necho hello\n');
    await expect(upgrade()).rejects.toThrow('does not run here (`bitenvoy-agent.new --version`: printed "hello", not a version): refused, nothing was changed');
    expect(await readFile(bin, 'utf8')).toBe(fakeAgent('0.1.0'));
  });

  it('rolls back to the previous executable when the new one does not start, and the old one runs again', async () => {
    await publish(fakeAgent('0.3.0', false));
    await expect(upgrade()).rejects.toThrow('the new agent 0.3.0 did not start within 5 s (see the service\'s log); rolled back to 0.1.0, which runs again');
    expect(await readFile(bin, 'utf8')).toBe(fakeAgent('0.1.0'));
    expect((await readStartMarker(dir))?.version).toBe('0.1.0');
    expect(await supervisor.isRunning()).toBe(true);
  });
});

async function waitForMarker(version: string) {
  for (let i = 0; i < 100; i++) {
    const marker = await readStartMarker(dir);
    if (marker?.version === version) return marker;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no start marker for ${version}`);
}
