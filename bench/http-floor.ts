/**
 * The floor under fleet_idle_cpu_pct: a bare `node:http` server, in a process of its own, that speaks just enough of
 * the agent API for the fleet simulator — enrollment answered at once, and each `GET …/jobs/next?wait=N` held N
 * seconds and answered 204 with an `x-request-id`, as the hub answers an idle poll — and does nothing else: no
 * credential, no store, no heartbeat, no metrics. What it spends holding the same polls from the same simulated fleet
 * is what Node's HTTP server itself costs per poll; the hub cannot go below it without fewer requests.
 *
 * Forked by bench/fleet.ts; it sends `{ port }` once listening on 127.0.0.1 and exits when its parent goes away.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN_API_PREFIX, AGENT_API_PREFIX } from '../lib/protocol.js';

let enrolled = 0;
const server = createServer((req, res) => {
  const url = req.url ?? '/';
  req.resume();
  if (req.method === 'POST' && url === `${ADMIN_API_PREFIX}/enrollment-tokens`) return void json(res, 201, { token: 'floor' });
  if (req.method === 'POST' && url === `${AGENT_API_PREFIX}/enroll`) {
    enrolled++;
    return void json(res, 201, { agentId: `ag_floor${enrolled}`, credential: `bta_floor${enrolled}` });
  }
  if (req.method === 'GET' && url.startsWith(`${AGENT_API_PREFIX}/jobs/next`)) {
    const wait = Number(/[?&]wait=(\d+)/.exec(url)?.[1] ?? 50);
    const timer = setTimeout(() => {
      res.setHeader('x-request-id', 'floor');
      res.writeHead(204).end();
    }, wait * 1000);
    res.once('close', () => clearTimeout(timer));
    return;
  }
  json(res, 404, { error: { code: 'BE_NOT_FOUND', message: `the HTTP floor server answers only the fleet simulator, not ${req.method} ${url}` } });
});

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
}

// The hub's own connection settings (app/server.ts), so the sockets live as the hub's do.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.requestTimeout = 120_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('disconnect', () => process.exit(0));
