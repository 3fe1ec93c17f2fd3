/**
 * The package as shipped: `npm pack`, then installed with production dependencies only (`npm ci --omit=dev`, offline,
 * from the npm cache that installing this repository filled, with the repository's lock file). The CLI must run
 * from there — help, version, validate and a whole demo — without any devDependency (nock, vitest,
 * @octokit/openapi, @octokit/webhooks-examples…).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { packageRoot } from '../../lib/package-root.js';
import { cleanEnv, runBitenvoy } from './run-bitenvoy.js';

const exec = promisify(execFile);
let work: string;
let installed: string;
let bin: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'bitenvoy-pack-'));
  const npm = (args: string[], cwd: string) => exec('npm', [...args, '--no-audit', '--no-fund'], { cwd, env: cleanEnv({ npm_config_update_notifier: 'false' }), maxBuffer: 16 << 20 });
  // `npm pack` ships what `files` lists, built (`npm run build` comes first, as for every end-to-end test).
  const { stdout } = await npm(['pack', '--pack-destination', work, '--silent'], packageRoot());
  await exec('tar', ['xzf', join(work, stdout.trim().split('\n').pop()!), '-C', work]);
  installed = join(work, 'package');
  await copyFile(join(packageRoot(), 'package-lock.json'), join(installed, 'package-lock.json'));
  try {
    await npm(['ci', '--omit=dev', '--offline'], installed);
  } catch (err) {
    throw new Error(`npm ci --omit=dev --offline failed; the npm cache must hold the dependencies (run \`npm install\` once): ${(err as { stderr?: string }).stderr}`, { cause: err });
  }
  bin = join(installed, 'dist', 'cli', 'bitenvoy.js');
}, 240_000);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

it('has no devDependency installed', async () => {
  const { devDependencies } = JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  expect(Object.keys(devDependencies).filter((name) => existsSync(join(installed, 'node_modules', name)))).toEqual([]);
  expect(existsSync(join(installed, 'node_modules', 'pino'))).toBe(true);
});

it('runs --help, version and validate', async () => {
  const help = await runBitenvoy(['--help'], { bin });
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^ {2}hub token create /m);
  const { version } = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { version: string };
  expect(await runBitenvoy(['version'], { bin })).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  const valid = await runBitenvoy(['validate', join(installed, 'templates', 'config-repo')], { bin });
  expect(valid.stdout).toContain('valid');
  expect(valid.code).toBe(0);
});

it('runs the whole demo', async () => {
  const demo = await runBitenvoy(['demo'], { bin, timeoutMs: 180_000 });
  expect(demo.stdout + demo.stderr).toContain('Demo succeeded: both agents run the deployed commit.');
  expect(demo.code).toBe(0);
}, 200_000);
