/**
 * Route tests' HTTP server: Koa on loopback at a free port, the given middleware first and then each router (with
 * its `allowedMethods`), stopped with every connection it still holds (an open event stream would keep `close` waiting).
 *
 * @example
 * const served = await serveRoutes([agentsPageRoutes(deps)], { before: [pageAccess(…)] });
 * await fetch(`${served.base}/agents`);
 * await served.close();
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Router } from '@koa/router';
import Koa, { type Middleware } from 'koa';

export interface ServedRoutes {
  /** `http://127.0.0.1:PORT`. */
  base: string;
  close(): Promise<void>;
}

export async function serveRoutes(routers: Router[], options: { koa?: Koa; before?: Middleware[] } = {}): Promise<ServedRoutes> {
  const koa = options.koa ?? new Koa();
  for (const middleware of options.before ?? []) koa.use(middleware);
  for (const router of routers) koa.use(router.routes()).use(router.allowedMethods());
  const server = createServer(koa.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
