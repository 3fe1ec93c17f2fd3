import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { deploymentPageRoutes } from '../../app/pages/deployment-page-routes.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';

/** Serves the status page routes on loopback for one request and returns the HTML. */
export async function renderDeploymentPage(engine: RolloutEngine, id: string): Promise<string> {
  const koa = new Koa();
  const router = deploymentPageRoutes(engine, () => undefined);
  koa.use(router.routes());
  const server = createServer(koa.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const { port } = server.address() as AddressInfo;
    return await (await fetch(`http://127.0.0.1:${port}/deployments/${id}`)).text();
  } finally {
    server.close();
  }
}
