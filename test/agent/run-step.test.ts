import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveStepCwd, runStep, type RunStepOptions } from '../../agent/run-step.js';
import { bindSecrets } from '../../agent/secrets.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-step-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function run(command: string, options: Partial<RunStepOptions> = {}) {
  let out = '';
  const result = await runStep({ command, cwd: dir, env: { PATH: process.env.PATH, ...options.env }, timeoutMs: 10_000, killGraceMs: 500, ...options, onOutput: (_s, t) => (out += t) });
  return { ...result, out };
}

/** Running, not a zombie waiting for a reaper: /proc tells the difference, kill(pid, 0) does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

describe('runStep', () => {
  it('reports exit codes and output in order', async () => {
    const ok = await run('echo one; echo two >&2; echo three');
    expect(ok.exitCode).toBe(0);
    expect(ok.out).toContain('one\n');
    expect(ok.out.indexOf('one')).toBeLessThan(ok.out.indexOf('three'));
    expect((await run('exit 7')).exitCode).toBe(7);
  });

  it('passes the environment and the working directory', async () => {
    const res = await run('echo "$GREETING from $(pwd)"', { env: { GREETING: 'hello' } });
    expect(res.out.trim()).toBe(`hello from ${dir}`);
  });

  it('kills the whole process group on timeout, children included', async () => {
    const pidFile = join(dir, 'child.pid');
    const res = await run(`sleep 30 & echo $! > ${pidFile}; wait`, { timeoutMs: 300 });
    expect(res.timedOut).toBe(true);
    const childPid = Number((await import('node:fs/promises').then((fs) => fs.readFile(pidFile, 'utf8'))).trim());
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(childPid)).toBe(false);
  });

  it('escalates to SIGKILL when the step ignores SIGTERM', async () => {
    const res = await run(`trap '' TERM; echo ready; sleep 30`, { timeoutMs: 300, killGraceMs: 300 });
    expect(res.timedOut).toBe(true);
    expect(res.signal).toBe('SIGKILL');
  });

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort('cancelled by the hub'), 200);
    const res = await run('sleep 30', { signal: controller.signal });
    expect(res.cancelled).toBe(true);
    expect(res.durationMs).toBeLessThan(5000);
  });

  it('keeps interleaved output of a long step in order', async () => {
    const res = await run('i=0; while [ $i -lt 300 ]; do echo "line $i"; i=$((i+1)); done');
    expect(res.out.trim().split('\n')).toEqual(Array.from({ length: 300 }, (_v, i) => `line ${i}`));
  });

  it('runs the step in the shell it names, and in /bin/sh without one', async () => {
    expect((await run('echo "${BASH_VERSION:-none}"', { shell: 'bash' })).out).toMatch(/^\d+\.\d+/);
    expect((await run('echo "${BASH_VERSION:-none}"')).out).toBe('none\n');
    const cmd = await run('echo hi', { shell: 'cmd' });
    expect(cmd.exitCode).toBeNull();
    expect(cmd.out).toContain('`shell: cmd` does not exist on Linux; write one of `sh`, `bash`, `pwsh`');
  });

  it('gives a secret to the step through its environment, never its command line', async () => {
    const secrets = new Map([['API_TOKEN', 'tok with spaces * 123']]);
    const bound = bindSecrets({ name: 'use', run: `printf '[%s]\\n' \${{ secrets.API_TOKEN }}; tr '\\0' ' ' < /proc/$$/cmdline` }, secrets, 'secrets.yml');
    const res = await run(bound.run, { env: bound.env });
    expect(res.exitCode).toBe(0);
    const [printed, cmdline] = res.out.split('\n');
    expect(printed).toBe('[tok with spaces * 123]');
    expect(cmdline).toContain('${BITENVOY_SECRET_API_TOKEN}');
    expect(cmdline).not.toContain('tok with spaces');
  });
});

describe('resolveStepCwd', () => {
  it('accepts directories inside the release and refuses any way out', async () => {
    const release = join(dir, 'release');
    await mkdir(join(release, 'web'), { recursive: true });
    await symlink('/etc', join(release, 'escape'));
    expect(resolveStepCwd(release, undefined)).toBe(release);
    expect(resolveStepCwd(release, 'web')).toBe(join(release, 'web'));
    expect(resolveStepCwd(release, './web/../web')).toBe(join(release, 'web'));
    expect(resolveStepCwd(release, '..foo')).toBe(join(release, '..foo'));
    for (const cwd of ['..', '../other', '/etc', 'web/../../x', 'escape']) {
      expect(() => resolveStepCwd(release, cwd, 'build')).toThrow(`step \`build\`: cwd \`${cwd}\` leaves the release directory`);
    }
  });
});
