/**
 * Logs a person can read at a terminal, JSON everywhere else. The real hub and agent run under a pseudo-terminal
 * (`script` from util-linux gives the process one) and with plain pipes.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripControls } from '../../lib/strip-controls.js';
import { cliPath, createEnrollTokenCli, runCli, startHubProcess, type HubProcess } from '../../testbed/processes.js';
import { cleanEnv, runBitenvoy } from './run-bitenvoy.js';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `bitenvoy <args>` with a terminal (`tty`) or pipes until its output matches `until`; then stops it. The process
 * also ends by itself after 30 s (`timeout`), whatever happens to the test.
 */
function runUntil(args: string[], env: NodeJS.ProcessEnv, until: RegExp, tty: boolean): Promise<string> {
  const command = `exec timeout 30 ${[process.execPath, cliPath(), ...args].map(quote).join(' ')}`;
  const child = tty
    ? spawn('script', ['-qfec', command, '/dev/null'], { env: { ...env, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn('/bin/sh', ['-c', command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      // What it printed up to here: `script` adds a line of its own when stopped.
      const seen = out;
      child.kill('SIGTERM');
      child.once('close', () => (error ? reject(error) : resolve(seen)));
    };
    const timer = setTimeout(() => finish(new Error(`no ${until} within 25 s:\n${out}`)), 25_000);
    const collect = (chunk: Buffer) => {
      out += chunk.toString();
      if (until.test(out)) {
        clearTimeout(timer);
        finish();
      }
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', () => {
      clearTimeout(timer);
      if (!done) {
        done = true;
        if (until.test(out)) resolve(out);
        else reject(new Error(`exited before ${until}:\n${out}`));
      }
    });
  });
}

const lines = (out: string) => out.split(/\r?\n/).filter((l) => l.trim());
const PRETTY = /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) bitenvoy-(hub|agent): /;

describe('hub logs', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  const started = /admin token[^\n]*\n/;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bitenvoy-logs-'));
    env = cleanEnv({ HOST: '127.0.0.1', PORT: '0', BITENVOY_DATA_DIR: dataDir });
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('are readable lines, coloured, on a terminal; the start-up says where the admin token is', async () => {
    const out = await runUntil(['hub'], env, started, true);
    expect(out).toContain('\u001b[32mINFO'); // colour, on a terminal only
    const shown = lines(stripControls(out.replace(/\r/g, '')));
    expect(shown.length).toBeGreaterThanOrEqual(2);
    for (const line of shown) expect(line).toMatch(PRETTY);
    expect(shown.join('\n')).toMatch(/INFO {2}bitenvoy-hub: BitEnvoy hub \S+ listening on http:\/\/127\.0\.0\.1:\d+ in LOCAL MODE/);
    expect(shown.join('\n')).toContain(`INFO  bitenvoy-hub: the admin token is in the file ${join(dataDir, 'admin-token')}`);
  });

  it('are JSON, one object a line, when they go to a pipe', async () => {
    const out = await runUntil(['hub'], env, started, false);
    const records = lines(out).map((line) => JSON.parse(line) as { level: number; name: string; msg: string });
    expect(records.every((r) => r.name === 'bitenvoy-hub' && typeof r.level === 'number')).toBe(true);
    expect(records.map((r) => r.msg)).toContainEqual(expect.stringContaining(`the admin token is in the file ${join(dataDir, 'admin-token')}`));
  });

  it('BITENVOY_LOG_FORMAT forces either, and a wrong value is refused', async () => {
    const json = await runUntil(['hub'], { ...env, BITENVOY_LOG_FORMAT: 'json' }, started, true);
    for (const line of lines(json)) expect(() => JSON.parse(line)).not.toThrow();
    const pretty = await runUntil(['hub'], { ...env, BITENVOY_LOG_FORMAT: 'pretty' }, started, false);
    for (const line of lines(pretty)) expect(line).toMatch(PRETTY);
    expect(pretty).not.toContain('\u001b['); // no colour into a pipe
    const wrong = await runBitenvoy(['hub'], { env: { ...env, BITENVOY_LOG_FORMAT: 'xml' } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('BITENVOY_LOG_FORMAT=xml: expected `json` or `pretty`');
  });
});

describe('agent logs', () => {
  let root: string;
  let hub: HubProcess;
  let agentDir: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'bitenvoy-logs-'));
    hub = await startHubProcess({ dataDir: join(root, 'hub') });
    agentDir = join(root, 'agent');
    await runCli(['agent', 'enroll', '--hub', hub.url, '--token', await createEnrollTokenCli(join(root, 'hub')), '--dir', agentDir, '--name', 'web-1']);
  }, 30_000);
  afterAll(async () => {
    await hub?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('are readable on a terminal and JSON into a pipe', async () => {
    const started = /agent web-1 started[^\n]*\n/;
    const tty = lines(stripControls((await runUntil(['agent', 'run', '--dir', agentDir], cleanEnv(), started, true)).replace(/\r/g, '')));
    expect(tty.find((l) => l.includes('started'))).toMatch(new RegExp(`${PRETTY.source}agent web-1 started; polling ${hub.url} agent=web-1 hub=${hub.url} agentId=ag_\\w+$`));
    const piped = lines(await runUntil(['agent', 'run', '--dir', agentDir], cleanEnv(), started, false));
    expect(JSON.parse(piped.find((l) => l.includes('started'))!)).toMatchObject({ name: 'bitenvoy-agent', msg: `agent web-1 started; polling ${hub.url}` });
  });
});
