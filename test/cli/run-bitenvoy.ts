/**
 * Runs the built `bitenvoy` (dist/cli/bitenvoy.js, from `npm run build`) to completion and keeps what a user sees:
 * the exit code, stdout and stderr. Unlike testbed's runCli it does not throw on a non-zero exit.
 */
import { spawn } from 'node:child_process';
import { cliPath } from '../../testbed/processes.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without the settings a developer's shell may carry into a test. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('BITENVOY_') || name === 'LOG_FORMAT' || name === 'PORT') delete env[name];
  return { ...env, ...extra };
}

export function runBitenvoy(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; bin?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.bin ?? cliPath(), ...args], {
      env: options.env ?? cleanEnv(),
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
