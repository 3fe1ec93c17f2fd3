/**
 * `bitenvoy agent install` and `uninstall` through the built CLI, for real as root, with the unit written into a
 * temporary folder (BITENVOY_SYSTEMD_DIR). This machine has no systemd running, as in a container: install writes the
 * unit and says how to start it. The unit it wrote starts the real program that ran install, which
 * `systemd-analyze verify` checks exists.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentYmlHasLimits, agentYmlHasRunAs } from '../../../agent/service/detect-run-as.js';
import { cliPath } from '../../../testbed/processes.js';
import { cleanEnv, runBitenvoy } from '../../cli/run-bitenvoy.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

let root: string;
let dir: string;
let unitDir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-install-'));
  await chmod(root, 0o755);
  dir = join(root, 'agent');
  unitDir = join(root, 'systemd');
  await mkdir(dir, { mode: 0o700 });
  await writeFile(join(dir, 'agent.json'), JSON.stringify({ hub: 'http://127.0.0.1:9', agentId: 'agt_1', name: 'web-1', credential: 'c'.repeat(43), settings: { pollWaitSeconds: 1, leaseSeconds: 60, heartbeatSeconds: 60 } }), { mode: 0o600 });
  await writeFile(join(dir, 'agent.yml'), 'allow:\n  gitBaseUrls: [https://github.com/]\n  branches: [main]\n');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const env = () => cleanEnv({ BITENVOY_SYSTEMD_DIR: unitDir });

describe.runIf(process.platform === 'linux' && isRoot)('agent install on Linux', () => {
  it('--dry-run prints the unit, starting this very program, and the commands; changes nothing', async () => {
    const result = await runBitenvoy(['agent', 'install', '--dir', dir, '--user', 'nobody', '--writable', '/srv/www', '--dry-run'], { env: env() });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('would do (--dry-run, nothing changed):');
    expect(result.stdout).toContain(`run: chown -R nobody: ${dir}`);
    expect(result.stdout).toContain(`write: ${unitDir}/bitenvoy-agent.service (mode 644)`);
    expect(result.stdout).toContain(`ExecStart=${realpathSync(process.execPath)} ${realpathSync(cliPath())} agent run --dir ${dir}`);
    expect(result.stdout).toContain(`ReadWritePaths=${dir} /srv/www`);
    expect(result.stdout).toContain('systemd is not running on this machine');
    expect(result.stdout).not.toContain('useradd');
    expect(existsSync(unitDir)).toBe(false);
  });

  it('installs for real: gives DIR to the user, writes a unit systemd-analyze accepts, says it could not start it; uninstall removes it and keeps DIR', async () => {
    // An existing system user (systemd calls `nobody` unsafe for a service, rightly).
    const installed = await runBitenvoy(['agent', 'install', '--dir', dir, '--user', 'daemon'], { env: env() });
    expect(installed.stderr).toBe('');
    expect(installed.code).toBe(0);
    expect(installed.stdout).toContain('installed the agent as a service:');
    expect(installed.stdout).toContain('could not be started; where systemd runs, start it with: systemctl daemon-reload && systemctl enable --now bitenvoy-agent.service');
    const unit = join(unitDir, 'bitenvoy-agent.service');
    expect((await stat(unit)).mode & 0o777).toBe(0o644);
    const daemon = Number((await promisify(execFile)('id', ['-u', 'daemon'])).stdout.trim());
    expect((await stat(join(dir, 'agent.json'))).uid).toBe(daemon);
    expect((await stat(dir)).uid).toBe(daemon);
    if (existsSync('/usr/bin/systemd-analyze')) {
      const verified = await promisify(execFile)('/usr/bin/systemd-analyze', ['verify', unit]);
      expect(verified.stderr).toBe('');
    }

    const removed = await runBitenvoy(['agent', 'uninstall'], { env: env() });
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`remove: ${unit}`);
    expect(removed.stdout).toContain(`kept ${dir} (the enrollment, agent.yml, releases) and the user daemon`);
    expect(existsSync(unit)).toBe(false);
    expect(existsSync(join(dir, 'agent.json'))).toBe(true);

    const again = await runBitenvoy(['agent', 'uninstall'], { env: env() });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('the agent is not installed as a service here, nothing to uninstall');
  });

  it('refuses a directory that is not enrolled, saying how to enroll; writes nothing', async () => {
    await rm(join(dir, 'agent.json'));
    const result = await runBitenvoy(['agent', 'install', '--dir', dir, '--user', 'nobody'], { env: env() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${dir}/agent.json is missing: this agent is not enrolled; run \`bitenvoy agent enroll`);
    expect(existsSync(unitDir)).toBe(false);
  });

  it('refuses a --writable path a unit cannot carry', async () => {
    const result = await runBitenvoy(['agent', 'install', '--dir', dir, '--writable', '/srv/my site', '--dry-run'], { env: env() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--writable "/srv/my site": a service path may not contain spaces');
  });

  it('refuses clearly when not run as root', async () => {
    const child = spawn(process.execPath, [cliPath(), 'agent', 'install', '--dir', dir], { env: env(), uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('`bitenvoy agent install` changes the system\'s services and needs root: run it with sudo (or add --dry-run');
    expect(existsSync(unitDir)).toBe(false);
  });
});

describe('agent upgrade from an npm install', () => {
  it('refuses, naming the npm command to use instead', async () => {
    const result = await runBitenvoy(['agent', 'upgrade', '--from', 'https://example.com/v0.2.0', '--dir', dir], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('this bitenvoy was installed with npm, not as the agent executable: upgrade it with `npm install -g bitenvoy@VERSION`');
  });
});

describe('runAs in agent.yml', () => {
  it.each([
    ['at the top level', 'runAs: deploy\n', true],
    ['under a repository', 'repositories:\n  acme/shop:\n    runAs: shop\n', true],
    ['under perRepository, as agent.schema.json has it', 'perRepository:\n  acme/*:\n    runAs: shop\n', true],
    ['in a list of repositories', 'repositories:\n  - name: acme/shop\n    runAs: shop\n', true],
    ['absent', 'allow:\n  repositories: [runAs/runAs]\n', false],
    ['not YAML', 'runAs: [\n', false],
  ])('%s', async (_, text, expected) => {
    await writeFile(join(dir, 'agent.yml'), text);
    expect(await agentYmlHasRunAs(dir)).toBe(expected);
  });

  it('finds limits the same way (the unit then delegates cgroups)', async () => {
    await writeFile(join(dir, 'agent.yml'), 'perRepository:\n  acme/shop:\n    limits: { memory: 512M }\n');
    expect(await agentYmlHasLimits(dir)).toBe(true);
    await writeFile(join(dir, 'agent.yml'), 'runAs: deploy\n');
    expect(await agentYmlHasLimits(dir)).toBe(false);
  });
});
