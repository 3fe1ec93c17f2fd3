/**
 * `bitenvoy agent enroll` against a hub that is not on our side: its enrollment answer carries escape sequences (in
 * the agent id, in suggestions the agent drops) and settings that would make the agent spin. Nothing of it may reach
 * the terminal, and nothing malformed may be written into agent.json. A real CLI process against a real HTTP server
 * on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cleanEnv, runBitenvoy } from './run-bitenvoy.js';

const FAKE = '\u001b[2K\r✔ success\u009b1A';

let answer: unknown;
let server: Server;
let hub: string;
let root: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(answer)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-hostile-enroll-'));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

const settings = { pollWaitSeconds: 25, leaseSeconds: 60, heartbeatSeconds: 60 };
const controls = (text: string) => [...text].filter((c) => c !== '\n' && c !== '\t' && (c < ' ' || (c >= '\u007f' && c <= '\u009f')));
let n = 0;
const enroll = () => runBitenvoy(['agent', 'enroll', '--hub', hub, '--token', 'bte_x', '--name', 'web-1', '--dir', join(root, `agent-${++n}`)], { env: cleanEnv() });

it('prints no control character from the suggestions it drops', async () => {
  answer = { agentId: 'agt_1', credential: 'c'.repeat(40), settings, suggestedAllow: { gitBaseUrls: [`https://evil.example/${FAKE}`], branches: [`main${FAKE}`] } };
  const { code, stdout, stderr } = await enroll();
  expect(code).toBe(0);
  expect(stdout).toContain('left out');
  expect(controls(stdout + stderr)).toEqual([]);
});

it('refuses an agent id with control characters, and prints none of them', async () => {
  answer = { agentId: `agt_1${FAKE}`, credential: 'c'.repeat(40), settings };
  const { code, stdout, stderr } = await enroll();
  expect(code).toBe(1);
  expect(stderr).toContain('`agentId` is not an id');
  expect(controls(stdout + stderr)).toEqual([]);
});

it.each([
  ['a poll wait that is not a number', { ...settings, pollWaitSeconds: 'soon' }],
  ['a lease of no time', { ...settings, leaseSeconds: 0 }],
  ['no settings at all', undefined],
])('refuses an enrollment answer with %s, writing no agent.json', async (_what, given) => {
  answer = { agentId: 'agt_1', credential: 'c'.repeat(40), ...(given === undefined ? {} : { settings: given }) };
  const dir = join(root, `agent-${n + 1}`);
  const { code, stderr } = await enroll();
  expect(code).toBe(1);
  expect(stderr).toMatch(/^bitenvoy: the hub's enrollment answer/);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  await expect(readFile(join(dir, 'agent.json'), 'utf8')).rejects.toThrow();
});
