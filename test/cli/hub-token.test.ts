/**
 * `bitenvoy hub token create` as a new user runs it: against the hub that is running (its admin API), so the token
 * is one that hub accepts, proved by enrolling a real agent with it; and a clear refusal, creating nothing, when
 * there is neither a hub nor a hub store.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cliPath, freePort, startHubProcess, waitForHttp } from '../../testbed/processes.js';
import { cleanEnv, runBitenvoy } from './run-bitenvoy.js';
import { STORE_BACKENDS, createTestDatabase, databaseUrl, dropTestDatabase } from '../helpers/store-backends.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-token-'));
  dirs.push(dir);
  return dir;
}
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** `bitenvoy hub` run from `cwd` with nothing but a port: data in ./.bitenvoy-data, as a first try would. */
async function startHubIn(cwd: string, port: number): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [cliPath(), 'hub'], { cwd, env: cleanEnv({ HOST: '127.0.0.1', PORT: String(port) }), stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  stops.push(stop);
  await waitForHttp(`http://127.0.0.1:${port}/livez`, undefined);
  return { url: `http://127.0.0.1:${port}`, stop };
}

async function enroll(hub: string, token: string, dir: string, name: string) {
  return runBitenvoy(['agent', 'enroll', '--hub', hub, '--token', token, '--dir', dir, '--name', name]);
}

describe('bitenvoy hub token create', () => {
  it('with no hub running and no hub store, refuses with what to do and creates nothing', async () => {
    const cwd = await tempDir();
    const port = await freePort(); // nothing listens there
    const { code, stdout, stderr } = await runBitenvoy(['hub', 'token', 'create'], { cwd, env: cleanEnv({ PORT: String(port) }) });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/cannot mint an enrollment token: no admin token: .*, and .*\.bitenvoy-data holds no hub store \(hub\.sqlite\)\. Start the hub first/);
    expect(stderr).toContain('--hub URL --token ADMIN_TOKEN');
    expect(await readdir(cwd)).toEqual([]);

    // An admin token, but still no hub: the same, naming where it looked.
    const withToken = await runBitenvoy(['hub', 'token', 'create', '--token', 'bt_admin_x'], { cwd, env: cleanEnv({ PORT: String(port) }) });
    expect(withToken.code).toBe(2);
    expect(withToken.stderr).toContain(`no hub answers at http://localhost:${port}`);
    expect(await readdir(cwd)).toEqual([]);
  });

  it('--data-dir without a hub store there refuses and creates nothing', async () => {
    const cwd = await tempDir();
    const dataDir = join(cwd, 'not-a-hub');
    const { code, stdout, stderr } = await runBitenvoy(['hub', 'token', 'create', '--data-dir', dataDir], { cwd });
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toContain(`--data-dir ${dataDir}: no hub store there (hub.sqlite)`);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('mints through the running hub a token it accepts; with the hub stopped, into its store, which it accepts on restart', async () => {
    const cwd = await tempDir();
    const port = await freePort();
    const env = cleanEnv({ PORT: String(port) });
    let hub = await startHubIn(cwd, port);

    // Same folder, same PORT: the hub at localhost:$PORT, the admin token from ./.bitenvoy-data/admin-token.
    const first = await runBitenvoy(['hub', 'token', 'create', '--ttl', '10m'], { cwd, env });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^bte_[\w-]+\n$/);
    expect(first.stderr).toContain(`bitenvoy agent enroll --hub http://localhost:${port} --token ${first.stdout.trim()}`);
    const enrolled = await enroll(hub.url, first.stdout.trim(), join(cwd, 'agent-1'), 'web-1');
    expect(enrolled.stdout).toContain('enrolled as web-1');
    expect(enrolled.code).toBe(0);

    // From anywhere else, with the hub's address and admin token; nothing is created where it runs.
    const elsewhere = await tempDir();
    const adminToken = (await readFile(join(cwd, '.bitenvoy-data', 'admin-token'), 'utf8')).trim();
    const remote = await runBitenvoy(['hub', 'token', 'create', '--hub', hub.url, '--token', adminToken], { cwd: elsewhere });
    expect(remote.code).toBe(0);
    expect(await readdir(elsewhere)).toEqual([]);
    expect((await enroll(hub.url, remote.stdout.trim(), join(cwd, 'agent-2'), 'web-2')).code).toBe(0);

    // A wrong admin token is the hub's refusal, not a reason to write into some store.
    const wrong = await runBitenvoy(['hub', 'token', 'create', '--token', 'bt_admin_wrong'], { cwd, env });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('BE_UNAUTHORIZED');

    // The hub is down but its store is here: the token goes into the store, and the restarted hub takes it.
    await hub.stop();
    const offline = await runBitenvoy(['hub', 'token', 'create'], { cwd, env });
    expect(offline.code).toBe(0);
    expect(offline.stderr).toContain(`no hub answers at http://localhost:${port}; writing the token into the hub store in ${join(cwd, '.bitenvoy-data')}`);
    hub = await startHubIn(cwd, port);
    expect((await enroll(hub.url, offline.stdout.trim(), join(cwd, 'agent-3'), 'web-3')).code).toBe(0);
  }, 60_000);

  it.runIf(!STORE_BACKENDS.find((b) => b.name === 'postgres')!.unavailable)('with no hub answering, writes into the PostgreSQL store of BITENVOY_DATABASE_URL, which a hub on it accepts', async () => {
    const database = `bitenvoy_test_${randomBytes(6).toString('hex')}`;
    await createTestDatabase(database);
    stops.push(() => dropTestDatabase(database));
    const cwd = await tempDir();
    const port = await freePort();
    const env = { BITENVOY_DATABASE_URL: databaseUrl(database), BITENVOY_HUB_URL: `http://127.0.0.1:${port}`, BITENVOY_ADMIN_TOKEN: 'bt_admin_pg' };
    const offline = await runBitenvoy(['hub', 'token', 'create'], { cwd, env });
    expect(offline.code).toBe(0);
    expect(offline.stderr).toContain('writing the token into the hub store on PostgreSQL (BITENVOY_DATABASE_URL)');
    // Nothing was written next to it: the store is the database.
    expect(existsSync(join(cwd, '.bitenvoy-data', 'hub.sqlite'))).toBe(false);
    const hub = await startHubProcess({ dataDir: join(cwd, 'hub'), port, env: { ...env, BITENVOY_CONFIG_REPO: '' } });
    stops.push(() => hub.stop());
    expect((await enroll(hub.url, offline.stdout.trim(), join(cwd, 'agent'), 'web-1')).code).toBe(0);
  }, 60_000);

  it('--data-dir writes into an existing hub store, which the hub reads', async () => {
    const dataDir = await tempDir();
    const hub = await startHubProcess({ dataDir, env: { BITENVOY_CONFIG_REPO: '' } });
    stops.push(() => hub.stop());
    const { code, stdout } = await runBitenvoy(['hub', 'token', 'create', '--data-dir', dataDir]);
    expect(code).toBe(0);
    expect((await enroll(hub.url, stdout.trim(), join(dataDir, 'agent'), 'web-1')).code).toBe(0);
  });

  it('--ttl outside 1m..720h is refused before anything is asked', async () => {
    const { code, stderr } = await runBitenvoy(['hub', 'token', 'create', '--ttl', '10s', '--hub', 'http://127.0.0.1:9', '--token', 'x']);
    expect(code).toBe(2);
    expect(stderr).toContain('--ttl 10s: expected from 1m to 720h');
  });
});
