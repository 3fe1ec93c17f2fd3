/**
 * Which shell runs a step, and with which argv: `sh` → `/bin/sh -c`, `bash` → `bash -c` (from PATH), `pwsh` and
 * `powershell` → `-NoLogo -NoProfile -NonInteractive … -Command`, `cmd` → `cmd.exe /d /s /v:on /c`. The default is
 * `sh` on Unix; on Windows `pwsh` when it is on PATH, else Windows PowerShell. Everything takes the platform (and
 * how to look a program up) as a parameter, so the Windows answers are tested on Linux too.
 *
 * @example
 * shellInvocation('bash', 'echo hi', { platform: 'linux' });
 * // { shell: 'bash', file: '/usr/bin/bash', args: ['--noprofile', '--norc', '-c', 'echo hi'], verbatim: false }
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';

/** The shells an instruction file can name (its `shell:` enum). */
export const SHELL_NAMES = ['sh', 'bash', 'pwsh', 'powershell', 'cmd'] as const;
export type ShellName = (typeof SHELL_NAMES)[number];

/** How a step's command is started: the program, its argv, and whether Node must pass the argv as written. */
export interface ShellInvocation {
  shell: ShellName;
  file: string;
  args: string[];
  /** Windows only: pass `args` unquoted (cmd.exe parses its own command line; `/s` strips the outer quotes). */
  verbatim: boolean;
}

export interface ShellLookup {
  platform?: NodeJS.Platform;
  /** PATH and PATHEXT to search (default: the agent's own). */
  env?: NodeJS.ProcessEnv;
  /** Finds a program on PATH: its full path, or undefined (tests replace it). */
  findProgram?: (name: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform) => string | undefined;
}

/**
 * The shells a platform has at all (whether a program is installed is a separate question, asked when a step runs).
 *
 * @example
 * shellsOf('win32'); // ['pwsh', 'powershell', 'cmd', 'bash']
 */
export function shellsOf(platform: NodeJS.Platform = process.platform): ShellName[] {
  return platform === 'win32' ? ['pwsh', 'powershell', 'cmd', 'bash'] : ['sh', 'bash', 'pwsh'];
}

/**
 * The shell a step runs in when neither it nor its file names one.
 *
 * @example
 * defaultShell({ platform: 'linux' }); // 'sh'
 */
export function defaultShell(lookup: ShellLookup = {}): ShellName {
  const platform = lookup.platform ?? process.platform;
  if (platform !== 'win32') return 'sh';
  const find = lookup.findProgram ?? findProgram;
  return find('pwsh', lookup.env ?? process.env, platform) ? 'pwsh' : 'powershell';
}

/**
 * The program and argv that run `script` in `shell` (default: {@link defaultShell}). A shell this platform does
 * not have, or one that is not installed, is refused with what to write instead.
 *
 * @example
 * shellInvocation('cmd', 'echo !X!', { platform: 'win32' }).args; // ['/d', '/s', '/v:on', '/c', '"echo !X!"']
 */
export function shellInvocation(shell: ShellName | undefined, script: string, lookup: ShellLookup = {}): ShellInvocation {
  const platform = lookup.platform ?? process.platform;
  const env = lookup.env ?? process.env;
  const chosen = shell ?? defaultShell(lookup);
  const available = shellsOf(platform);
  if (!available.includes(chosen)) {
    throw new BitEnvoyError('BE_INSTRUCTIONS_INVALID', `\`shell: ${chosen}\` does not exist on ${platformName(platform)}; write one of ${available.map((s) => `\`${s}\``).join(', ')}`);
  }
  const interactiveOff = ['-NoLogo', '-NoProfile', '-NonInteractive'];
  switch (chosen) {
    case 'sh':
      return { shell: chosen, file: '/bin/sh', args: ['-c', script], verbatim: false };
    case 'bash':
      return { shell: chosen, file: installed(chosen, 'bash', env, platform, lookup), args: ['--noprofile', '--norc', '-c', script], verbatim: false };
    case 'pwsh':
      return { shell: chosen, file: installed(chosen, 'pwsh', env, platform, lookup), args: [...interactiveOff, '-Command', script], verbatim: false };
    case 'powershell':
      return { shell: chosen, file: installed(chosen, 'powershell', env, platform, lookup), args: [...interactiveOff, '-ExecutionPolicy', 'Bypass', '-Command', script], verbatim: false };
    case 'cmd':
      return { shell: chosen, file: env.ComSpec ?? env.COMSPEC ?? 'cmd.exe', args: ['/d', '/s', '/v:on', '/c', `"${cmdLine(script)}"`], verbatim: true };
  }
}

/**
 * cmd.exe runs one line: a script of several lines is refused (joining them with `&` would change what a failing
 * line does), and so is a NUL character.
 */
function cmdLine(script: string): string {
  const line = script.replace(/\r?\n$/, '');
  if (/[\r\n\0]/.test(line)) {
    throw new BitEnvoyError('BE_INSTRUCTIONS_INVALID', '`shell: cmd` runs one command line, and this `run` has several; join the commands with `&&` on one line, or call a `.cmd` file from the repository');
  }
  return line;
}

function installed(shell: ShellName, program: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform, lookup: ShellLookup): string {
  const found = (lookup.findProgram ?? findProgram)(program, env, platform);
  if (found) return found;
  throw new BitEnvoyError('BE_INSTRUCTIONS_INVALID', `\`shell: ${shell}\` needs \`${program}\` on the agent's PATH, and it is not there; install it on this server, or choose another shell (${shellsOf(platform).map((s) => `\`${s}\``).join(', ')})`);
}

/**
 * The full path of `name` on PATH (on Windows, with each PATHEXT extension), or undefined.
 *
 * @example
 * findProgram('bash', process.env, 'linux'); // '/usr/bin/bash'
 */
export function findProgram(name: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? '').split(platform === 'win32' ? ';' : ':').filter(Boolean);
  const extensions = platform === 'win32' ? (env.PATHEXT ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean) : [''];
  for (const dir of dirs) {
    for (const ext of extensions) {
      const candidate = join(dir, name + ext.toLowerCase());
      try {
        if (statSync(candidate).isFile()) return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

function platformName(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'Windows' : platform === 'darwin' ? 'macOS' : platform === 'linux' ? 'Linux' : platform;
}
