/**
 * What a held long poll costs the hub: a real hub in this process holds 2,000 polls sent by a client in another
 * process (so only the hub's side is counted), and the retained JavaScript heap and RSS per held poll are printed.
 * A measurement, not a pass mark: the figure for the fleet is bench/fleet.ts's fleet_idle_rss_mb. It speaks only
 * HTTP, so the same file measures any version of the hub.
 */
import { spawn } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/test-hub.js';

const POLLS = 2000;
let t: TestHub;

beforeAll(async () => {
  t = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '50' });
});
afterAll(async () => t?.close());

/** Heap in use after a full collection. */
function settledHeap(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

async function openConnections(): Promise<number> {
  return new Promise((resolve, reject) => t.hub.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

// The client: one keep-alive socket per poll, every poll held until the process is killed.
const CLIENT = `
const http = require('node:http');
const [url, credential, count] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
let answered = 0;
for (let i = 0; i < Number(count); i++) {
  http.get(url + '/api/agent/v1/jobs/next?wait=50', { agent, headers: { authorization: 'Bearer ' + credential } }, (res) => {
    res.resume();
    answered++;
  }).on('error', () => {});
}
setInterval(() => process.stdout.write(answered + '\\n'), 200);
`;

it('prints the memory a held poll keeps', { timeout: 60_000 }, async () => {
  const agents = await Promise.all(Array.from({ length: 20 }, (_, i) => t.enroll(`mem-${i + 1}`, { role: 'idle' })));
  // Warm up the route (modules, caches, the SQLite statements) before measuring.
  for (const a of agents) await t.call('GET', '/api/agent/v1/jobs/next?wait=0', { token: a.credential });
  const heapBefore = settledHeap();
  const rssBefore = process.memoryUsage().rss;
  const clients = agents.map((a) => spawn(process.execPath, ['-e', CLIENT, t.url, a.credential, String(POLLS / agents.length)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  let answered = 0;
  for (const c of clients) c.stdout.on('data', (chunk: Buffer) => (answered = Math.max(answered, Number(chunk.toString().trim().split('\n').pop()))));
  try {
    const deadline = Date.now() + 30_000;
    while ((await openConnections()) < POLLS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // Every poll authenticated and waiting: give the last ones time to reach the notifier.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await openConnections()).toBeGreaterThanOrEqual(POLLS);
    expect(answered).toBe(0);
    const heapPerPoll = (settledHeap() - heapBefore) / POLLS;
    const rssPerPoll = (process.memoryUsage().rss - rssBefore) / POLLS;
    process.stdout.write(`held poll: ${(heapPerPoll / 1024).toFixed(2)} KB of JS heap and ${(rssPerPoll / 1024).toFixed(2)} KB of RSS each (${POLLS} held)\n`);
  } finally {
    for (const c of clients) c.kill('SIGKILL');
  }
});
