/**
 * The simplest TCP load balancer, as its own process: each new connection goes to the first backend that accepts it
 * (a replica that stopped listening refuses, and the next one gets it), or with `roundRobin` to the next backend in
 * turn (and on to the following ones while they refuse). No health checks. Its own process, because a
 * test process has its sockets patched by nock, whose interception of `net` connections breaks raw relaying.
 *
 * Run: `node dist/testbed/tcp-balancer.js [--round-robin] PORT_A PORT_B …` — prints `listening <port>` once it listens.
 *
 * @example
 * const balancer = await startTcpBalancer([hubA.port, hubB.port]); // { url, stop() }
 * const spread = await startTcpBalancer([hubA.port, hubB.port, hubC.port], { roundRobin: true });
 */
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../lib/package-root.js';

function serve(ports: number[], roundRobin: boolean): void {
  let turn = 0;
  const server = createServer((client) => {
    client.on('error', () => undefined);
    const first = roundRobin ? turn++ % ports.length : 0;
    // The i-th backend tried for this connection, counted from `first`.
    const attempt = (i: number): void => {
      const upstream = connect(ports[(first + i) % ports.length]!, '127.0.0.1');
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        // Each side's end is passed on by the pipes, after what is still on its way.
        client.pipe(upstream).pipe(client);
      });
      upstream.on('error', () => (!connected && i + 1 < ports.length ? attempt(i + 1) : client.destroy()));
      client.on('error', () => upstream.destroy());
    };
    attempt(0);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`));
}

/** Starts the balancer process in front of `ports` (loopback); `stop` ends it. */
export async function startTcpBalancer(ports: number[], options: { roundRobin?: boolean } = {}): Promise<{ url: string; stop(): Promise<void> }> {
  // The built file, as the CLI is (tests run this module from its TypeScript source).
  const script = join(packageRoot(), 'dist', 'testbed', 'tcp-balancer.js');
  const child = spawn(process.execPath, [script, ...(options.roundRobin ? ['--round-robin'] : []), ...ports.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`the TCP balancer exited (${code}) before listening`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  serve(args.filter((a) => a !== '--round-robin').map(Number), args.includes('--round-robin'));
}
