/**
 * Which program and argv run a step in each shell, on each platform (the Windows answers are plain data, checked
 * here on Linux), the default shell, and the refusals for a shell a platform does not have or a server lacks. The
 * shells this machine has (sh, bash) are run for real.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultShell, findProgram, shellInvocation, shellsOf } from '../../../agent/platform/shells.js';
import { runStep } from '../../../agent/run-step.js';

const onPath = (...names: string[]) => (name: string) => (names.includes(name) ? `C:\\Program Files\\${name}\\${name}.exe` : undefined);

describe('shellInvocation', () => {
  it('gives each shell its program and flags', () => {
    const win = { platform: 'win32' as const, env: {}, findProgram: onPath('pwsh', 'powershell', 'bash') };
    expect(shellInvocation('sh', 'echo hi', { platform: 'linux' })).toEqual({ shell: 'sh', file: '/bin/sh', args: ['-c', 'echo hi'], verbatim: false });
    expect(shellInvocation('bash', 'echo hi', { platform: 'linux', findProgram: () => '/usr/bin/bash' })).toEqual({
      shell: 'bash',
      file: '/usr/bin/bash',
      args: ['--noprofile', '--norc', '-c', 'echo hi'],
      verbatim: false,
    });
    expect(shellInvocation('pwsh', 'Write-Output hi', win)).toEqual({
      shell: 'pwsh',
      file: 'C:\\Program Files\\pwsh\\pwsh.exe',
      args: ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', 'Write-Output hi'],
      verbatim: false,
    });
    expect(shellInvocation('powershell', 'Write-Output hi', win).args).toEqual(['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', 'Write-Output hi']);
    // cmd parses its own command line: passed verbatim, /s strips the outer quotes, /v:on turns on !VAR!.
    expect(shellInvocation('cmd', 'echo "a b" & ver\r\n', { ...win, env: { ComSpec: 'C:\\Windows\\system32\\cmd.exe' } })).toEqual({
      shell: 'cmd',
      file: 'C:\\Windows\\system32\\cmd.exe',
      args: ['/d', '/s', '/v:on', '/c', '"echo "a b" & ver"'],
      verbatim: true,
    });
  });

  it('defaults to sh on Unix, and on Windows to pwsh when it is on PATH, else Windows PowerShell', () => {
    expect(defaultShell({ platform: 'linux' })).toBe('sh');
    expect(defaultShell({ platform: 'darwin' })).toBe('sh');
    expect(defaultShell({ platform: 'win32', findProgram: onPath('pwsh', 'powershell') })).toBe('pwsh');
    expect(defaultShell({ platform: 'win32', findProgram: onPath('powershell') })).toBe('powershell');
    expect(shellInvocation(undefined, 'x', { platform: 'win32', findProgram: onPath('powershell') }).shell).toBe('powershell');
    expect(shellInvocation(undefined, 'x', { platform: 'linux' }).file).toBe('/bin/sh');
  });

  it('refuses a shell the platform does not have, or a server lacks, naming the ones it has', () => {
    expect(shellsOf('linux')).toEqual(['sh', 'bash', 'pwsh']);
    expect(() => shellInvocation('cmd', 'dir', { platform: 'linux' })).toThrow('`shell: cmd` does not exist on Linux; write one of `sh`, `bash`, `pwsh`');
    expect(() => shellInvocation('powershell', 'x', { platform: 'darwin' })).toThrow('`shell: powershell` does not exist on macOS; write one of `sh`, `bash`, `pwsh`');
    expect(() => shellInvocation('sh', 'x', { platform: 'win32', findProgram: onPath('pwsh') })).toThrow('`shell: sh` does not exist on Windows; write one of `pwsh`, `powershell`, `cmd`, `bash`');
    expect(() => shellInvocation('pwsh', 'x', { platform: 'linux', findProgram: () => undefined })).toThrow(
      "`shell: pwsh` needs `pwsh` on the agent's PATH, and it is not there; install it on this server, or choose another shell (`sh`, `bash`, `pwsh`)",
    );
  });

  it('refuses a cmd script of several lines (cmd /c runs only the first)', () => {
    expect(() => shellInvocation('cmd', 'echo one\r\necho two', { platform: 'win32', findProgram: onPath('pwsh') })).toThrow('`shell: cmd` runs one command line, and this `run` has several');
  });
});

describe('findProgram', () => {
  it('finds programs on PATH, with PATHEXT on Windows rules', async () => {
    expect(findProgram('sh', { PATH: '/nonexistent:/bin' }, 'linux')).toBe('/bin/sh');
    expect(findProgram('no-such-shell-here', { PATH: process.env.PATH }, 'linux')).toBeUndefined();
    // Windows rules on this machine: `;` separates PATH (spelled `Path` there), each PATHEXT extension is tried.
    const bin = await mkdtemp(join(tmpdir(), 'bitenvoy-path-'));
    try {
      await writeFile(join(bin, 'pwsh.exe'), '');
      expect(findProgram('pwsh', { Path: `/nonexistent;${bin}`, PATHEXT: '.COM;.EXE' }, 'win32')).toBe(join(bin, 'pwsh.exe'));
      expect(findProgram('pwsh', { Path: `/nonexistent;${bin}`, PATHEXT: '.COM' }, 'win32')).toBeUndefined();
      expect(findProgram('pwsh', { PATH: `/nonexistent:${bin}` }, 'linux')).toBeUndefined();
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });
});

describe('steps run in the shell they name', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bitenvoy-shells-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));
  const run = async (command: string, shell?: 'sh' | 'bash') => {
    let out = '';
    const result = await runStep({ command, shell, cwd: dir, env: { PATH: process.env.PATH }, timeoutMs: 10_000, onOutput: (_s, t) => (out += t) });
    return { exitCode: result.exitCode, out };
  };

  it('bash runs bash-only syntax; sh (dash) does not understand it', async () => {
    const script = 'a=(one two three); [[ ${#a[@]} == 3 && $BASH ]] && echo "bash: ${a[2]}"';
    expect(await run(script, 'bash')).toEqual({ exitCode: 0, out: 'bash: three\n' });
    const sh = await run(script);
    expect(sh.exitCode).not.toBe(0);
    expect(sh.out).not.toContain('bash:');
  });

  it('reports a shell it cannot start on stderr, with no exit code', async () => {
    const res = await runStep({ command: 'dir', shell: 'cmd', cwd: dir, env: {}, timeoutMs: 1000, onOutput: () => undefined });
    expect(res.exitCode).toBeNull();
  });
});
