/**
 * The rendered service files are what their service managers accept: the systemd unit passes `systemd-analyze
 * verify` without a single warning (it only warns, exit 0, on a value it cannot parse), the launchd property list is
 * read by Python's plistlib (macOS's own format; plutil is not here), and the templates under templates/ are the
 * renderings of the defaults, so they cannot drift.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderLaunchdPlist } from '../../../agent/service/render-launchd-plist.js';
import { RUN_AS_CAPABILITIES, renderSystemdUnit } from '../../../agent/service/render-systemd-unit.js';
import { renderWindowsTask, WINDOWS_DEFAULT_SPEC } from '../../../agent/service/render-windows-task.js';
import { checkServicePath, DEFAULT_SPEC, type ServiceSpec } from '../../../agent/service/service-spec.js';

const run = promisify(execFile);
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
// On CI the checks must run; elsewhere a machine without the tool skips them.
const canVerify = existsSync(SYSTEMD_ANALYZE) || process.env.CI === 'true';
const hasPython = existsSync('/usr/bin/python3') || process.env.CI === 'true';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-units-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A spec whose ExecStart is this Node (verify needs the program to exist). */
function spec(extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return { ...DEFAULT_SPEC, dir: root, command: [process.execPath, '/opt/bitenvoy/dist/cli/bitenvoy.js', 'agent', 'run', '--dir', root], ...extra };
}

async function verify(unit: string): Promise<{ code: number; stderr: string }> {
  const file = join(root, 'bitenvoy-agent.service');
  await writeFile(file, unit);
  return run(SYSTEMD_ANALYZE, ['verify', file]).then(
    ({ stderr }) => ({ code: 0, stderr }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
}

describe.runIf(canVerify)('systemd-analyze verify', () => {
  it('accepts the unit, hardened, without a warning', async () => {
    const unit = renderSystemdUnit(spec({ writable: ['/srv/www', '/var/www/shop'] }));
    expect(await verify(unit)).toEqual({ code: 0, stderr: '' });
    expect(unit).toContain(`ReadWritePaths=${root} /srv/www /var/www/shop\n`);
    for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'KillMode=mixed', 'TimeoutStopSec=30s', 'Restart=on-failure', 'User=bitenvoy-agent', 'CapabilityBoundingSet=\n']) {
      expect(unit).toContain(line);
    }
    expect(unit).toContain(`ExecStart=${process.execPath} /opt/bitenvoy/dist/cli/bitenvoy.js agent run --dir ${root}\n`);
  });

  it('accepts the unit with runAs capabilities and a deploy target under /home', async () => {
    const unit = renderSystemdUnit(spec({ runAs: true, writable: ['/home/deploy/site'] }));
    expect(await verify(unit)).toEqual({ code: 0, stderr: '' });
    expect(unit).toContain(`AmbientCapabilities=${RUN_AS_CAPABILITIES}\nCapabilityBoundingSet=${RUN_AS_CAPABILITIES}\n`);
    expect(unit).toContain('ProtectHome=read-only\n');
  });

  it('delegates the cpu and memory controllers when agent.yml bounds steps (limits), and only then', async () => {
    const unit = renderSystemdUnit(spec({ runAs: true, limits: true }));
    expect(await verify(unit)).toEqual({ code: 0, stderr: '' });
    expect(unit).toContain('\nDelegate=cpu memory\n');
    expect(unit).not.toContain('ProtectControlGroups=yes');
    const plain = renderSystemdUnit(spec());
    expect(plain).toContain('\nProtectControlGroups=yes\n');
    expect(plain).not.toContain('Delegate=');
  });

  it('is a check that can fail: a value systemd cannot parse is reported', async () => {
    const broken = renderSystemdUnit(spec()).replace('KillMode=mixed', 'KillMode=mixd');
    expect((await verify(broken)).stderr).toContain('Failed to parse kill mode');
  });
});

describe.runIf(hasPython)('launchd property list', () => {
  it('is a property list with the agent command, user, keep-alive and stop timeout', async () => {
    const file = join(root, 'dev.bitenvoy.agent.plist');
    await writeFile(file, renderLaunchdPlist(spec({ dir: '/var/lib/a&b' })));
    const { stdout } = await run('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', file]);
    expect(JSON.parse(stdout)).toMatchObject({
      Label: 'dev.bitenvoy.agent',
      ProgramArguments: [process.execPath, '/opt/bitenvoy/dist/cli/bitenvoy.js', 'agent', 'run', '--dir', root],
      UserName: 'bitenvoy-agent',
      WorkingDirectory: '/var/lib/a&b',
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      ExitTimeOut: 30,
      StandardOutPath: '/var/lib/a&b/agent.log',
    });
  });
});

describe('templates', () => {
  it.each([
    ['systemd/bitenvoy-agent.service', () => renderSystemdUnit(DEFAULT_SPEC)],
    ['launchd/dev.bitenvoy.agent.plist', () => renderLaunchdPlist(DEFAULT_SPEC)],
    ['windows/bitenvoy-agent-task.xml', () => renderWindowsTask(WINDOWS_DEFAULT_SPEC)],
  ])('templates/%s is the rendering of the defaults', async (file, render) => {
    expect(await readFile(new URL(`../../../templates/${file}`, import.meta.url), 'utf8')).toBe(render());
  });

  it('the Windows task quotes arguments with spaces and runs as SYSTEM, at boot, restarted on failure', () => {
    const task = renderWindowsTask({ ...WINDOWS_DEFAULT_SPEC, command: ['C:\\Program Files\\x.exe', 'agent', 'run', '--dir', 'C:\\Agent Dir'] });
    expect(task).toContain('<Arguments>agent run --dir "C:\\Agent Dir"</Arguments>');
    expect(task).toContain('<UserId>S-1-5-18</UserId>');
    expect(task).toContain('<BootTrigger>');
    expect(task).toContain('<RestartOnFailure>');
  });
});

describe('paths a unit cannot carry', () => {
  it.each([
    ['relative', 'srv/www', 'give an absolute path'],
    ['a space', '/srv/my site', 'may not contain spaces'],
    ['a percent sign', '/srv/100%', 'may not contain spaces, quotes, `%`'],
  ])('%s is refused', (_, path, message) => {
    expect(() => checkServicePath(path, '--writable', 'linux')).toThrow(message);
  });
});
