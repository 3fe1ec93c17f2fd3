/**
 * A hub that is not on our side (or passes on what a rogue agent sent): escape sequences in every text field it
 * answers with. Nothing of them may reach the terminal through any command, and no remote text may start a line
 * that passes for one of ours ("✔ success" after an erase-line and a carriage return). Real CLI processes against a
 * real HTTP server on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../lib/package-root.js';
import { runBitenvoy } from './run-bitenvoy.js';

const FAKE = '\u001b[2K\r✔ success';
const hostile = (text: string) => `${text}${FAKE}\n✔ deployed to all servers\u009b1A\u001b]8;;https://evil.example\u0007`;

const deployment = {
  id: 'dep_1a2b3c4d5e6f',
  repository: 'acme/shop',
  environment: hostile('staging'),
  ref: hostile('main'),
  sha: 'a'.repeat(40),
  state: 'failure',
  description: hostile('step build failed on web-1'),
  strategy: 'all-at-once',
};
const view = {
  deployment,
  counts: { failed: 1 },
  failures: [{ jobId: 'job_1a2b3c4d5e6f_0_1', agentId: 'ag_1', agentName: hostile('web-1'), batch: 0, state: 'failed', step: { index: 0, name: hostile('build'), status: 'failed' }, message: hostile('exit 1') }],
  servers: 1,
};
const agents = [{ id: 'ag_1', name: hostile('web-1'), labels: { role: 'web', note: hostile('x') }, online: true, lastSeenAt: hostile('2026-01-01T00:00:00Z') }];
const entries = [{ at: '2026-01-01T00:00:00Z', actor: hostile('mallory'), action: 'deploy', repository: 'acme/shop', environment: 'staging', outcome: hostile('failure'), detail: hostile('why') }];

const routes: Record<string, [number, unknown]> = {
  'POST /api/v1/deployments': [201, { deployment, url: hostile('http://127.0.0.1/deployments/dep_1a2b3c4d5e6f') }],
  'GET /api/v1/deployments/dep_1a2b3c4d5e6f': [200, view],
  'POST /api/v1/deployments/dep_1a2b3c4d5e6f/cancel': [200, view],
  'POST /api/v1/deployments/dep_1a2b3c4d5e6f/continue': [200, view],
  'GET /api/v1/agents': [200, { agents }],
  'GET /api/v1/audit': [200, { entries }],
  'POST /api/v1/enrollment-tokens': [201, { token: hostile('bte_x'), expiresAt: hostile('soon') }],
  'POST /api/v1/agents/web-9/unbind': [404, { error: { code: 'BE_NOT_FOUND', message: hostile('no agent named web-9') } }],
};

let server: Server;
let hub: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const [status, body] = routes[`${req.method} ${req.url?.split('?')[0]}`] ?? [404, { error: { code: 'BE_NOT_FOUND', message: hostile('nothing here') } }];
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const config = join(packageRoot(), 'templates', 'config-repo');

describe('remote text reaches the terminal without control characters', () => {
  it.each([
    ['deploy', ['deploy', '-r', 'acme/shop', '--ref', 'main', '-e', 'staging']],
    ['cancel', ['cancel', 'dep_1a2b3c4d5e6f']],
    ['continue', ['continue', 'dep_1a2b3c4d5e6f']],
    ['agents', ['agents']],
    ['audit', ['audit']],
    ['plan', ['plan', '--config', config, '--repository', 'example/app', '--environment', 'staging']],
    ['hub token create', ['hub', 'token', 'create']],
    ['a hub error', ['agents', 'unbind', 'web-9']],
    ['a deployment that is not there', ['cancel', 'dep_000000000000']],
  ])('%s', async (_what, args) => {
    const { stdout, stderr } = await runBitenvoy([...args, '--hub', hub, '--token', 'bt_admin_x']);
    const shown = stdout + stderr;
    expect(shown).toMatch(/\S/);
    // No C0 but newline and tab, no DEL, no C1 (ESC, CR, CSI, OSC…).
    expect([...shown].filter((c) => c !== '\n' && c !== '\t' && (c < ' ' || (c >= '\u007f' && c <= '\u009f')))).toEqual([]);
    // The words are still there, on a line that is ours: no line begins with the fake.
    expect(shown).toContain('✔ success');
    expect(shown).not.toMatch(/^\s*✔/m);
  });

  it('--json and --format json|jsonl escape them instead, and lose nothing', async () => {
    const asJson = await runBitenvoy(['agents', '--json', '--hub', hub, '--token', 'x']);
    const raw = (text: string) => [...text].filter((c) => c === '\u001b' || c === '\r' || c === '\u009b');
    expect(raw(asJson.stdout)).toEqual([]);
    expect(JSON.parse(asJson.stdout)).toEqual(agents);
    const jsonl = await runBitenvoy(['audit', '--format', 'jsonl', '--hub', hub, '--token', 'x']);
    expect(raw(jsonl.stdout)).toEqual([]);
    expect(jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual(entries);
  });
});
