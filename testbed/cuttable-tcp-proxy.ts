/**
 * A TCP proxy on loopback that can cut the network: `cut()` drops every connection through it and refuses new ones
 * until `restore()`. Tests put one between a hub and PostgreSQL to take the database away from that hub alone, as a
 * broken network or a restarted server would, without touching the shared PostgreSQL other tests use.
 *
 * @example
 * const proxy = await startCuttableTcpProxy({ host: '127.0.0.1', port: 5432 });
 * // BITENVOY_DATABASE_URL=postgres://postgres@127.0.0.1:${proxy.port}/db … later: proxy.cut(); proxy.restore();
 */
import { createServer, Socket, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface CuttableTcpProxy {
  port: number;
  /** Whether cut() is in force. */
  readonly down: boolean;
  /** Drops every open connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startCuttableTcpProxy(target: { host: string; port: number }): Promise<CuttableTcpProxy> {
  const sockets = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = new Socket();
    upstream.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get down() {
      return down;
    },
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
