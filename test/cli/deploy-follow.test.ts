/**
 * `bitenvoy deploy` follows a deployment through its summary: a real CLI process against a hub on loopback that
 * answers with summaries of a 2,000-server rollout and records every request. This hub is older than the event stream
 * (its events route answers the hub's route-not-found 404), so the CLI polls the summary. It never asks for server
 * pages or logs, prints a progress line only when the counts change, and a line per server only for failures.
 * (Following through the stream: deploy-follow-stream.test.ts.)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentSummary } from '../../app/rollout/deployment-view.js';
import { runBitenvoy } from './run-bitenvoy.js';

const ID = 'dep_0123456789ab';
const deployment = {
  id: ID,
  repository: 'acme/shop',
  environment: 'staging',
  ref: 'main',
  sha: 'a'.repeat(40),
  state: 'in_progress',
  description: '0/2000 servers · batch 1/1',
  strategy: 'all-at-once',
  batches: [{ index: 0, size: 2000, counts: {} }],
  batchCount: 1,
  skipped: [],
  skippedCount: 0,
};
const failure = (n: number) => ({ jobId: `job_0123456789ab_0_${n}`, agentId: `ag_${n}`, agentName: `web-${n}`, batch: 0, state: 'failed' as const, step: { index: 1, name: 'migrate', status: 'failed' }, message: `web-${n}: step migrate exited 1` });

/** What the hub answers to each successive GET of the summary (the last one repeats). */
const summaries = [
  { deployment, counts: { pending: 2000 }, failures: [], servers: 2000 },
  { deployment, counts: { pending: 2000 }, failures: [], servers: 2000 },
  { deployment: { ...deployment, description: '1000/2000 servers · batch 1/1' }, counts: { running: 999, succeeded: 1000, failed: 1 }, failures: [failure(7)], servers: 2000 },
  { deployment: { ...deployment, description: '1000/2000 servers · batch 1/1' }, counts: { running: 999, succeeded: 1000, failed: 1 }, failures: [failure(7)], servers: 2000 },
  {
    deployment: { ...deployment, state: 'failure', description: 'web-7: step migrate exited 1' },
    counts: { succeeded: 1975, failed: 25 },
    failures: Array.from({ length: 20 }, (_, i) => failure(i + 7)),
    servers: 2000,
  },
] as unknown as DeploymentSummary[];

const requests: string[] = [];
let gets = 0;
/** What a hub answers for a route it does not have (api/error-middleware.ts); a test makes it a busy hub's 503. */
let eventsAnswer: [number, unknown] = [404, { error: { code: 'BE_NOT_FOUND', message: `no route GET /api/v1/deployments/${ID}/events` } }];
let server: Server;
let hub: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'POST' && req.url === '/api/v1/deployments') return json(201, { deployment, url: `http://127.0.0.1/deployments/${ID}` });
    if (req.method === 'GET' && req.url === `/api/v1/deployments/${ID}`) return json(200, summaries[Math.min(gets++, summaries.length - 1)]);
    if (req.method === 'GET' && req.url === `/api/v1/deployments/${ID}/events`) return json(...eventsAnswer);
    return json(404, { error: { code: 'BE_NOT_FOUND', message: `no route ${req.method} ${req.url}` } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('bitenvoy deploy follows the summary', () => {
  it('on a hub without the event stream, polls only the summary, prints progress when counts change and one line per failure, and exits 1', async () => {
    const { code, stdout, stderr } = await runBitenvoy(['deploy', '-r', 'acme/shop', '--ref', 'main', '-e', 'staging', '--hub', hub, '--token', 'bt_admin_x']);
    expect(code, stderr).toBe(1);
    // Never a page of servers, a log, or anything but the one small summary.
    expect(requests[0]).toBe('POST /api/v1/deployments');
    // The stream asked for once, answered 404 by this older hub: polling from then on.
    expect(requests[1]).toBe(`GET /api/v1/deployments/${ID}/events`);
    expect(new Set(requests.slice(2))).toEqual(new Set([`GET /api/v1/deployments/${ID}`]));
    expect(requests.length).toBe(2 + summaries.length);

    const lines = stdout.trim().split('\n');
    // A progress line each time the counts changed (three distinct counts), not on every poll.
    expect(lines.filter((l) => l.startsWith('  servers: '))).toEqual([
      '  servers: 2000 planned · pending 2000',
      '  servers: 2000 planned · running 999 · succeeded 1000 · failed 1',
      '  servers: 2000 planned · succeeded 1975 · failed 25',
    ]);
    // Each failure once, none of the 1,975 servers that went well, and the rest of the failures pointed to.
    const perServer = lines.filter((l) => /^ {2}web-\d+: /.test(l));
    expect(perServer).toHaveLength(20);
    expect(perServer[0]).toBe('  web-7: failed (step migrate failed) — web-7: step migrate exited 1');
    expect(new Set(perServer).size).toBe(20);
    expect(lines.at(-1)).toBe('  … 5 more failed or refused: see the status page');
    expect(lines.filter((l) => l.startsWith('in_progress: '))).toEqual(['in_progress: 0/2000 servers · batch 1/1', 'in_progress: 1000/2000 servers · batch 1/1']);
    expect(lines).toContain('failure: web-7: step migrate exited 1');
  });

  it('on a hub whose event streams are all taken (503 BE_BUSY), polls the summary instead', async () => {
    eventsAnswer = [503, { error: { code: 'BE_BUSY', message: 'this hub already serves 1000 deployment event streams' } }];
    requests.length = 0;
    gets = summaries.length - 1;
    const { code, stdout, stderr } = await runBitenvoy(['deploy', '-r', 'acme/shop', '--ref', 'main', '-e', 'staging', '--hub', hub, '--token', 'bt_admin_x']);
    expect(code, stderr).toBe(1);
    expect(requests).toEqual(['POST /api/v1/deployments', `GET /api/v1/deployments/${ID}/events`, `GET /api/v1/deployments/${ID}`]);
    expect(stdout).toContain('failure: web-7: step migrate exited 1');
  });
});

describe('bitenvoy deploy of a deployment GitHub has not taken yet', () => {
  it('says it is queued (the hub answered 202), waits until the hub has its rollout, then follows it', async () => {
    const seen: string[] = [];
    let looks = 0;
    const queued = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method === 'POST' && req.url === '/api/v1/deployments') {
        return json(202, { queued: true, deploymentId: ID, message: 'GitHub did not take the deployment of acme/shop@aaaaaaa to `staging` at once (GitHub answered 502); it is queued', url: `http://127.0.0.1/deployments/${ID}` });
      }
      // The rollout exists once GitHub created the deployment: not at the first look.
      if (req.method === 'GET' && req.url === `/api/v1/deployments/${ID}` && looks++ === 0) return json(404, { error: { code: 'BE_NOT_FOUND', message: `no deployment ${ID}` } });
      if (req.method === 'GET' && req.url === `/api/v1/deployments/${ID}`) return json(200, { deployment: { ...deployment, state: 'success', description: '2000/2000 servers succeeded' }, counts: { succeeded: 2000 }, failures: [], servers: 2000 });
      return json(404, { error: { code: 'BE_NOT_FOUND', message: `not served by this test: ${req.method} ${req.url}` } });
    });
    await new Promise<void>((resolve) => queued.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(queued.address() as AddressInfo).port}`;
      const { code, stdout, stderr } = await runBitenvoy(['deploy', '-r', 'acme/shop', '--ref', 'main', '-e', 'staging', '--hub', url, '--token', 'bt_admin_x']);
      expect(code, stderr).toBe(0);
      expect(stdout.split('\n').slice(0, 2)).toEqual([
        `deployment ${ID} is queued: GitHub did not take the deployment of acme/shop@aaaaaaa to \`staging\` at once (GitHub answered 502); it is queued`,
        `http://127.0.0.1/deployments/${ID}`,
      ]);
      expect(stdout).toContain('success: 2000/2000 servers succeeded');
      expect(seen.filter((r) => r.startsWith('GET')).length).toBeGreaterThanOrEqual(3);
    } finally {
      await new Promise((resolve) => queued.close(resolve));
    }
  });
});
