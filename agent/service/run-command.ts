/**
 * Runs the service manager's and the system's commands (`systemctl`, `useradd`, `launchctl`, `schtasks`) without a
 * shell, keeping what they print for the error message when one fails.
 */
import { execFile } from 'node:child_process';
import { BitEnvoyError } from '../../lib/errors.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv` to its end (at most `timeoutMs`); a command that cannot be started has code 127.
 *
 * @example
 * const { code } = await runCommand(['id', '-u', 'bitenvoy-agent']); // 0 when the user exists
 */
export function runCommand(argv: readonly string[], timeoutMs = 60_000): Promise<CommandResult> {
  const [file = '', ...args] = argv;
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : err.code === 'ENOENT' ? 127 : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr || (err && !stderr ? err.message : '')) });
    });
  });
}

/**
 * Runs `argv` and throws BE_SERVICE, with the command and what it printed, when it fails.
 *
 * @example
 * await mustRun(['systemctl', 'daemon-reload'], 'reload systemd');
 */
export async function mustRun(argv: readonly string[], purpose: string): Promise<CommandResult> {
  const result = await runCommand(argv);
  if (result.code !== 0) {
    const said = (result.stderr || result.stdout).trim().slice(0, 2000);
    throw new BitEnvoyError('BE_SERVICE', `could not ${purpose}: \`${argv.join(' ')}\` exited with ${result.code}${said ? `: ${said}` : ''}`);
  }
  return result;
}
