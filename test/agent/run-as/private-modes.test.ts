/** The agent's files made private at start, and a release fenced for its user (the latter as root only). */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fenceRelease, tightenAgentDir } from '../../../agent/run-as/private-modes.js';
import { releasePaths } from '../../../agent/releases.js';

const temps: string[] = [];
afterEach(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});
const modeOf = async (path: string) => (await stat(path)).mode & 0o7777;

describe('making the agent directory private', () => {
  it('tightens what an older install left readable, says each change, and never widens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-modes-'));
    temps.push(dir);
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'agent.json'), '{}', { mode: 0o644 });
    await writeFile(join(dir, 'agent.yml'), '', { mode: 0o600 });
    await writeFile(join(dir, 'secrets.yml'), 'A: b\n', { mode: 0o640 });
    await mkdir(join(dir, 'journal'), { mode: 0o755 });
    await writeFile(join(dir, 'journal', 'job_1.json'), '{}', { mode: 0o644 });
    await mkdir(join(dir, 'git'), { mode: 0o700 });
    await symlink('/etc/passwd', join(dir, 'artifacts'));
    const changed = await tightenAgentDir(dir, join(dir, 'secrets.yml'));
    expect(changed).toEqual([`${dir}: 0755 → 0711`, 'agent.json: 0644 → 0600', 'journal: 0755 → 0700', 'secrets.yml: 0640 → 0600', 'journal/job_1.json: 0644 → 0600']);
    expect(await modeOf(join(dir, 'agent.json'))).toBe(0o600);
    expect(await modeOf('/etc/passwd')).toBe(0o644); // a symbolic link is never followed
    expect(await tightenAgentDir(dir, join(dir, 'secrets.yml'))).toEqual([]);
  });
  it('makes a 0700 directory 0711 when steps run as other users, who must reach their releases', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-modes-'));
    temps.push(dir);
    expect(await tightenAgentDir(dir, join(dir, 'secrets.yml'))).toEqual([]);
    expect(await tightenAgentDir(dir, join(dir, 'secrets.yml'), { traversable: true })).toEqual([`${dir}: 0711 (searchable by the users steps run as, not listable)`]);
    expect(await modeOf(dir)).toBe(0o711);
  });
});

describe.skipIf(process.getuid?.() !== 0)('fencing a release (as root)', () => {
  it('gives the release to the user, the application folder to the agent with the user\'s group, 0750', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-fence-'));
    temps.push(dir);
    const paths = releasePaths(dir, 'acme/shop', 'prod', 'j1');
    await mkdir(join(paths.release, 'web'), { recursive: true });
    await writeFile(join(paths.release, 'web', 'index.html'), 'hi');
    await symlink('/etc/hostname', join(paths.release, 'link'));
    const nobody = { uid: 65534, gid: 65534 };
    await fenceRelease(paths, nobody);
    for (const path of [paths.release, join(paths.release, 'web', 'index.html')]) expect([(await stat(path)).uid, (await stat(path)).gid]).toEqual([65534, 65534]);
    expect((await stat('/etc/hostname')).uid).toBe(0); // the link itself changed hands, not its target
    for (const path of [paths.base, paths.releases]) {
      expect(await modeOf(path)).toBe(0o750);
      expect((await stat(path)).gid).toBe(65534);
    }
    expect(await modeOf(join(dir, 'apps', 'acme'))).toBe(0o711);
    // Another user cannot enter the application's folder.
    expect(() => execFileSync('setpriv', ['--reuid=1', '--regid=1', '--clear-groups', '--', 'ls', paths.base], { stdio: 'pipe' })).toThrow(/Permission denied/);
    await fenceRelease(paths, undefined);
    expect(await modeOf(paths.base)).toBe(0o700);
  });
});
