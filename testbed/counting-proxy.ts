/**
 * An HTTP forwarding proxy on loopback that counts the requests passing through it, and can cut the network: while
 * cut, every connection in flight is dropped and new ones are reset. Benchmarks put it between an agent and the hub
 * to count how often an idle agent calls; fault tests cut and restore it.
 *
 * @example
 * const proxy = await startCountingProxy('http://127.0.0.1:3000');
 * // enroll the agent with --hub proxy.url; later: proxy.requests()
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountingProxy {
  url: string;
  requests(): number;
  /** Drops every open connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** `onRequest` is told each request as it arrives (a bench times an agent's first long poll with it). */
export async function startCountingProxy(target: string, onRequest?: (method: string, path: string) => void): Promise<CountingProxy> {
  const to = new URL(target);
  let count = 0;
  let cut = false;
  const server = createServer((req, res) => {
    count += 1;
    onRequest?.(req.method ?? 'GET', req.url ?? '/');
    const upstream = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
    res.on('close', () => upstream.destroy());
  });
  server.on('connection', (socket) => {
    if (cut) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    cut() {
      cut = true;
      server.closeAllConnections();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
