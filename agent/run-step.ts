/**
 * Runs one step: `<shell> -c <command>` (see platform/shells.ts; `/bin/sh -c` by default on Unix) in its own
 * process group, output streamed to a callback as it comes (CRLF and all), and on timeout or cancellation the whole
 * group gets SIGTERM, then SIGKILL after a grace period — children and grandchildren too. On Windows the process
 * tree is ended with `taskkill /T /F` (platform/process-tree.ts).
 *
 * @example
 * const result = await runStep({ command: 'npm ci', cwd, env, timeoutMs: 600_000, onOutput: (stream, text) => … });
 */
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { BitEnvoyError } from '../lib/errors.js';
import { stopProcessTree, treeSpawnOptions } from './platform/process-tree.js';
import { shellInvocation, type ShellInvocation, type ShellName } from './platform/shells.js';

/** SIGTERM → SIGKILL grace when none is given: long enough for a service to shut down cleanly. */
export const DEFAULT_KILL_GRACE_MS = 10_000;

export interface StepResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
}

export interface RunStepOptions {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** SIGTERM → SIGKILL grace. */
  killGraceMs?: number;
  signal?: AbortSignal;
  onOutput: (stream: 'stdout' | 'stderr', text: string) => void;
  /** Told the step's process group id as soon as it exists (the journal keeps it, for after a crash). */
  onSpawn?: (processGroup: number) => void;
  /** The shell that runs `command` (default: `sh` on Unix, `pwsh` or `powershell` on Windows). */
  shell?: ShellName;
  /** argv the shell is started through, e.g. setpriv to run as another user (agent/run-as); each execs the next. */
  prefix?: string[];
}

/**
 * The directory a step runs in: the release directory or a directory inside it. A `cwd` that leaves it (`..`, an
 * absolute path, or a symlink pointing out) is refused: a commit's steps run in the commit.
 *
 * @example
 * resolveStepCwd('/srv/apps/acme/shop/prod/releases/j1', 'web'); // '/srv/apps/acme/shop/prod/releases/j1/web'
 */
export function resolveStepCwd(releaseDir: string, cwd: string | undefined, stepName = 'step'): string {
  const target = resolve(releaseDir, cwd ?? '.');
  const inside = (dir: string, root: string) => {
    const rel = relative(root, dir);
    return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith('../'));
  };
  let real = target;
  try {
    real = realpathSync(target);
  } catch {
    // Does not exist (yet): spawning reports it; the textual check below still applies.
  }
  if (!inside(target, releaseDir) || !inside(real, realpathSync(releaseDir))) {
    throw new BitEnvoyError('BE_INSTRUCTIONS_INVALID', `step \`${stepName}\`: cwd \`${cwd}\` leaves the release directory; write a path inside the repository, like \`web\` or \`./services/api\``);
  }
  return target;
}

/** After the shell exits, how long to wait for children that still hold its output open. */
const DRAIN_MS = 1000;

/**
 * Runs `options.command` in `options.shell` and resolves when it and its output are done (a shell that cannot be
 * started is reported on stderr, with no exit code).
 *
 * @example
 * const { exitCode } = await runStep({ command: '[[ -n $HOME ]]', shell: 'bash', cwd, env, timeoutMs: 5000, onOutput });
 */
export function runStep(options: RunStepOptions): Promise<StepResult> {
  const started = Date.now();
  let invocation: ShellInvocation;
  try {
    invocation = shellInvocation(options.shell, options.command, { env: options.env });
  } catch (err) {
    options.onOutput('stderr', `${(err as Error).message}\n`);
    return Promise.resolve({ exitCode: null, signal: null, timedOut: false, cancelled: false, durationMs: 0 });
  }
  return new Promise((resolve) => {
    const [file = invocation.file, ...args] = [...(options.prefix ?? []), invocation.file, ...invocation.args];
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      ...treeSpawnOptions(),
      windowsVerbatimArguments: invocation.verbatim,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid) options.onSpawn?.(child.pid);
    let timedOut = false;
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid) void stopProcessTree(child.pid, signal);
    };
    const stop = () => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      stop();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    child.stdout.setEncoding('utf8').on('data', (text: string) => options.onOutput('stdout', text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => options.onOutput('stderr', text));

    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let finished = false;
    const finish = () => {
      if (finished || !exit) return;
      finished = true;
      clearTimeout(timer);
      if (killTimer && !timedOut && !cancelled) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (timedOut || cancelled) {
        // Make sure nothing of the step survives: the SIGKILL follows the grace even after the shell is gone.
        if (killTimer) killTimer.unref();
      }
      resolve({ exitCode: exit.code, signal: exit.signal, timedOut, cancelled, durationMs: Date.now() - started });
    };
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // A daemon started by the step may keep the pipes open: do not wait for it forever.
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, DRAIN_MS).unref();
    });
    child.on('close', () => finish());
    child.on('error', (err) => {
      options.onOutput('stderr', `cannot start ${file}: ${err.message}\n`);
      exit = { code: null, signal: null };
      finish();
    });
  });
}
