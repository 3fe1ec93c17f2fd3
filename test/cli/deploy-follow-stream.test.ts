/**
 * `bitenvoy deploy` follows a deployment through the hub's event stream: a real CLI process (dist/) against a real hub
 * (real SQLite file, real config repo over git HTTP) whose agents the test plays through the engine, over several
 * seconds. The hub records every request: the summary route is not polled, and when the hub drops the stream midway
 * the CLI opens it again, misses nothing that changed meanwhile, and prints the final state.
 * (A hub without the stream: deploy-follow.test.ts; a hostile one: hostile-hub-stream.test.ts.)
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY } from '../../testbed/sample-app.js';
import { cliPath } from '../../testbed/processes.js';
import { stateEvent } from '../helpers/engine-fixture.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';
import { cleanEnv, type CliResult } from './run-bitenvoy.js';

/** A CLI process whose output can be watched while it runs. */
function startCli(args: string[]): { out: () => string; exit: Promise<CliResult> } {
  const child = spawn(process.execPath, [cliPath(), ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { out: () => stdout, exit };
}

async function runJob(engine: RolloutEngine, agentId: string): Promise<void> {
  const job = await engine.nextJob(agentId);
  if (!job) throw new Error(`no job for ${agentId}`);
  await engine.claimJob(agentId, job.id, `cl_${job.id}`);
  await engine.appendEvents(agentId, job.id, `cl_${job.id}`, [stateEvent(1, 'running'), stateEvent(2, 'succeeded')]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let t: TestHub;
let agents: string[];
const requests: Array<{ line: string; socket: Socket }> = [];
beforeAll(async () => {
  t = await startTestHub();
  agents = [];
  for (const name of ['web-1', 'web-2', 'web-3']) agents.push((await t.enroll(name)).agentId);
  // Beside the hub's own handler: sees every request, and the socket of each (to drop a stream).
  t.hub.server.on('request', (req: { method?: string; url?: string; socket: Socket }) => requests.push({ line: `${req.method} ${req.url}`, socket: req.socket }));
});
afterAll(async () => t?.close());

describe('bitenvoy deploy follows the event stream', () => {
  it('without polling the summary, through a dropped stream, to the final state', async () => {
    const cli = startCli(['deploy', '-r', SAMPLE_REPOSITORY, '--ref', 'main', '-e', SAMPLE_ENVIRONMENT, '--hub', t.url, '--token', ADMIN_TOKEN]);
    await expect.poll(cli.out, { timeout: 10_000 }).toContain('  servers: 3 planned · pending 3');
    const id = /^deployment (dep_\w+):/.exec(cli.out())![1]!;
    const streams = () => requests.filter((r) => r.line === `GET /api/v1/deployments/${id}/events`);

    // The rollout takes a few seconds: a poll every 250 ms would ask for the summary a dozen times or more.
    await sleep(1500);
    await runJob(t.hub.engine, agents[0]!);
    await expect.poll(cli.out).toMatch(/succeeded 1\n/);
    expect(streams()).toHaveLength(1);

    // The hub drops the stream; a server ends while no stream is open.
    streams()[0]!.socket.destroy();
    await runJob(t.hub.engine, agents[1]!);
    await expect.poll(() => streams().length, { timeout: 10_000 }).toBe(2);
    await expect.poll(cli.out).toMatch(/succeeded 2\n/);

    await sleep(1500);
    await runJob(t.hub.engine, agents[2]!);
    const { code, stdout, stderr } = await cli.exit;
    expect(code, stderr).toBe(0);

    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^deployment ${id}: ${SAMPLE_REPOSITORY}@[0-9a-f]{7} \\(main\\) → ${SAMPLE_ENVIRONMENT}$`));
    expect(lines.filter((l) => l.startsWith('success: '))).toHaveLength(1);
    const progress = lines.filter((l) => l.startsWith('  servers: '));
    expect(progress[0]).toBe('  servers: 3 planned · pending 3');
    expect(progress.at(-1)).toBe('  servers: 3 planned · succeeded 3');
    // Printed when the counts changed, never twice the same in a row (the new stream began with what was printed).
    expect(progress.every((l, i) => i === 0 || l !== progress[i - 1])).toBe(true);
    expect(stderr).toBe('');

    // The deployment created once, the stream opened twice, the summary route never polled.
    const mine = requests.filter((r) => r.line.startsWith('POST /api/v1/deployments') || r.line.includes(id));
    expect(mine.map((r) => r.line)).toEqual(['POST /api/v1/deployments', `GET /api/v1/deployments/${id}/events`, `GET /api/v1/deployments/${id}/events`]);
  });
});
