/**
 * A hub that is not on our side, on the deployment's event stream: escape sequences in every field (and events split
 * across chunks, CRLF line ends), a 10 MB event line, data that is not JSON, a summary of the wrong shape. Real CLI
 * processes against a real HTTP server on loopback: nothing reaches the terminal raw, and the CLI stops with a clear
 * error instead of buffering without end or crashing.
 */
import { createServer, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EVENT_CHARS } from '../../cli/commands/sse-parser.js';
import { runBitenvoy } from './run-bitenvoy.js';

const FAKE = '\u001b[2K\r✔ success';
const hostile = (text: string) => `${text}${FAKE}\n✔ deployed to all servers\u009b1A\u001b]8;;https://evil.example\u0007`;

const ID = 'dep_1a2b3c4d5e6f';
const deployment = { id: ID, repository: 'acme/shop', environment: 'staging', ref: 'main', sha: 'a'.repeat(40), state: 'in_progress', description: hostile('0/1 servers'), strategy: 'all-at-once' };
const summary = {
  deployment: { ...deployment, state: 'failure', description: hostile('step build failed on web-1') },
  counts: { failed: 1 },
  failures: [{ jobId: 'job_1a2b3c4d5e6f_0_1', agentId: 'ag_1', agentName: hostile('web-1'), batch: 0, state: 'failed', step: { index: 0, name: hostile('build'), status: 'failed' }, message: hostile('exit 1') }],
  servers: 1,
};

/** What the events route sends, by test. */
const streams: Record<string, (res: ServerResponse) => void> = {
  // The final summary in pieces that split a CRLF and a multi-byte character, after a comment.
  controls(res) {
    const event = Buffer.from(`: hello\r\nevent: summary\r\ndata: ${JSON.stringify(summary)}\r\n\r\nevent: end\r\ndata: {}\r\n\r\n`);
    const cut = event.indexOf('✔') + 1;
    const crlf = event.indexOf('\r\n') + 1;
    res.write(event.subarray(0, crlf));
    res.write(event.subarray(crlf, cut));
    res.end(event.subarray(cut));
  },
  // An event line of 10 MB that never ends, sent as fast as the CLI reads.
  huge(res) {
    res.write('event: summary\ndata: ');
    const chunk = 'x'.repeat(64 * 1024);
    let sent = 0;
    const more = () => {
      while (sent < 10 * 1024 * 1024 && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
    };
    more();
  },
  'not-json'(res) {
    res.write('event: summary\ndata: {"deployment": nope\n\n');
  },
  'wrong-shape'(res) {
    res.write(`event: summary\ndata: ${JSON.stringify({ ...summary, deployment: { ...summary.deployment, state: { evil: true } } })}\n\n`);
  },
};

let mode = 'controls';
let server: Server;
let hub: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    res.on('error', () => undefined);
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'POST' && req.url === '/api/v1/deployments') return json(201, { deployment, url: `http://127.0.0.1/deployments/${ID}` });
    if (req.method === 'GET' && req.url === `/api/v1/deployments/${ID}/events`) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      return streams[mode]!(res);
    }
    return json(404, { error: { code: 'BE_NOT_FOUND', message: `no route ${req.method} ${req.url}` } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const deploy = () => runBitenvoy(['deploy', '-r', 'acme/shop', '--ref', 'main', '-e', 'staging', '--hub', hub, '--token', 'bt_admin_x']);

describe('a hostile hub on the event stream', () => {
  it('gets no control character to the terminal and no line that passes for ours', async () => {
    mode = 'controls';
    const { code, stdout, stderr } = await deploy();
    expect(code, stderr).toBe(1);
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    const lines = stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('✔'))).toEqual([]);
    expect(lines).toContain('failure: step build failed on web-1✔ success ✔ deployed to all servers');
    expect(lines).toContain('  web-1✔ success ✔ deployed to all servers: failed (step build✔ success ✔ deployed to all servers failed) — exit 1✔ success ✔ deployed to all servers');
  });

  it('stops at an event of more than 1 Mi characters with a clear error', async () => {
    mode = 'huge';
    const { code, stdout, stderr } = await deploy();
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      `bitenvoy: the hub at ${hub} sent an event of more than ${MAX_EVENT_CHARS} characters on the deployment's event stream (a summary is a few thousand); is that URL a BitEnvoy hub? Follow the deployment on its status page instead`,
    );
    expect(stdout).not.toContain('xxxx');
  });

  it('stops at a summary that is not JSON, or not a summary, saying so', async () => {
    mode = 'not-json';
    const notJson = await deploy();
    expect(notJson.code).toBe(1);
    expect(notJson.stderr.trim()).toBe(`bitenvoy: the hub at ${hub} sent a deployment summary that is not JSON on the event stream; is that URL a BitEnvoy hub?`);
    mode = 'wrong-shape';
    const wrong = await deploy();
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim()).toBe(`bitenvoy: the hub at ${hub} sent a deployment summary without the expected fields (deployment.state, deployment.description); is that URL a BitEnvoy hub of this version?`);
  });
});
