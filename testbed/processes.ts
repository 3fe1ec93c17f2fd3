/**
 * Real BitEnvoy processes for the demo, end-to-end tests and benchmarks: the built CLI (`dist/cli/bitenvoy.js`)
 * started as a child process, with its output kept for assertions and diagnostics.
 *
 * @example
 * const hub = await startHubProcess({ dataDir, env: { BITENVOY_CONFIG_REPO: configUrl } });
 * const token = await createEnrollTokenCli(dataDir);
 * await runCli(['agent', 'enroll', '--hub', hub.url, '--token', token, '--dir', agentDir, '--name', 'web-1']);
 */
import { createHash } from 'node:crypto';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../lib/package-root.js';

const execFileAsync = promisify(execFile);

/** Path of the built CLI; `npm run build` makes it. */
export function cliPath(): string {
  const path = join(packageRoot(), 'dist', 'cli', 'bitenvoy.js');
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` first`);
  return path;
}

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once; resolves when it has exited. */
  kill(): Promise<void>;
}

/**
 * What runs as `bitenvoy`: this Node with the built command line, unless a test gives another program (the agent
 * executable, `[exe]`), which then gets only the environment the test gives it.
 */
export interface CliProgram {
  command: string[];
  /** The whole environment (nothing of ours is passed on). */
  env: NodeJS.ProcessEnv;
}

/** Starts `bitenvoy <args>` as a child process (in `cwd`, default ours). Set `echo` to copy its output to ours with a prefix. */
export function startCli(name: string, args: string[], options: { env?: NodeJS.ProcessEnv; echo?: boolean; cwd?: string; program?: CliProgram } = {}): ManagedProcess {
  const [command, ...prefix] = options.program?.command ?? [process.execPath, cliPath()];
  const child = spawn(command!, [...prefix, ...args], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: { ...(options.program?.env ?? process.env), LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    out += text;
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
    if (options.echo) for (const line of text.split('\n')) if (line) process.stdout.write(`[${name}] ${line}\n`);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const waitExit = async (ms: number) =>
    Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  return {
    name,
    child,
    output: () => out,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      if (!(await waitExit(graceMs))) {
        child.kill('SIGKILL');
        await exited;
      }
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs `bitenvoy <args>` to completion (in `cwd`, default ours); rejects with its output when it exits non-zero. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string, program?: CliProgram): Promise<string> {
  const [command, ...prefix] = program?.command ?? [process.execPath, cliPath()];
  try {
    const { stdout } = await execFileAsync(command!, [...prefix, ...args], {
      ...(cwd ? { cwd } : {}),
      env: { ...(program?.env ?? process.env), ...env },
      maxBuffer: 16 << 20,
    });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    throw new Error(`bitenvoy ${args.join(' ')} exited ${e.code}:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200 or the process exits or `ms` pass. */
export async function waitForHttp(url: string, proc: ManagedProcess | undefined, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  let exited = false;
  void proc?.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${proc?.name} exited before ${url} answered:\n${proc?.output()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer within ${ms} ms:\n${proc?.output() ?? ''}`);
}

export interface HubProcess extends ManagedProcess {
  url: string;
  port: number;
  adminToken: string;
}

/** Starts a hub on loopback with its own data dir; resolves once `/livez` answers. */
export async function startHubProcess(options: {
  dataDir: string;
  port?: number;
  env?: NodeJS.ProcessEnv;
  echo?: boolean;
  name?: string;
}): Promise<HubProcess> {
  // Unique to the data folder (and the same across restarts of its hub): a hub that answers on our port but does not
  // know it is another test's, which took the port between freePort() and our hub's bind.
  const adminToken = options.env?.BITENVOY_ADMIN_TOKEN ?? `testbed-admin-${createHash('sha256').update(options.dataDir).digest('hex').slice(0, 16)}`;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const proc = startCli(options.name ?? 'hub', ['hub'], {
      echo: options.echo,
      env: {
        HOST: '127.0.0.1',
        PORT: String(port),
        BITENVOY_DATA_DIR: options.dataDir,
        BITENVOY_ADMIN_TOKEN: adminToken,
        APP_ID: '',
        PRIVATE_KEY: '',
        PRIVATE_KEY_PATH: '',
        WEBHOOK_SECRET: '',
        ...options.env,
      },
    });
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/livez`, proc);
    if (await answersTo(url, adminToken)) return Object.assign(proc, { url, port, adminToken });
    await proc.stop(2000);
    if (options.port !== undefined || attempt >= 3) {
      throw new Error(`another process answers on port ${port} (not the hub started for ${options.dataDir}):\n${proc.output()}`);
    }
  }
}

/** Whether the hub at `url` is the one holding `adminToken` (another hub answers 401). */
async function answersTo(url: string, adminToken: string): Promise<boolean> {
  const res = await fetch(`${url}/api/v1/agents?limit=1`, { headers: { authorization: `Bearer ${adminToken}` } }).catch(() => undefined);
  await res?.body?.cancel();
  return res?.status === 200;
}

/** Mints a one-time enrollment token with the CLI against the hub's data dir. */
export async function createEnrollTokenCli(dataDir: string): Promise<string> {
  const out = await runCli(['hub', 'token', 'create', '--data-dir', dataDir]);
  const token = out.split('\n').find((line) => line.startsWith('bte_'));
  if (!token) throw new Error(`no token in the output of \`bitenvoy hub token create\`:\n${out}`);
  return token.trim();
}
