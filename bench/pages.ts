/**
 * Issue 13's read figure: `page_ms`, the slowest p50 of `GET /`, `GET /api/v1/deployments` and a deployment's page
 * with 100,000 deployments in the store (BENCH_PAGES_DEPLOYMENTS), against a real hub process and a real SQLite file.
 * The deployments are written straight into the hub's store (copies of one real deployment with their own ids and
 * times, over 20 environments), so the figure is about reading a long history, not about making it.
 */
import { ADMIN_API_PREFIX } from '../lib/protocol.js';
import { keys, type DeploymentRecord } from '../app/model.js';
import { openStore } from '../app/store/open-store.js';
import { startWorld } from '../testbed/world.js';

export const PAGE_TARGET_MS = 20;

export interface PageFigures {
  deployments: number;
  requests: number;
  p50_ms: Record<string, number>;
  page_ms: number;
  fillSeconds: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function measurePages(count: number, requests = 30): Promise<PageFigures> {
  const world = await startWorld({ agents: 1 });
  try {
    const { deployment } = await world.deploy();
    await world.waitForDeployment(deployment.id, 120_000);
    const started = performance.now();
    const store = await openStore({ dataDir: world.dataDir });
    const real = (await store.get<DeploymentRecord>(keys.deployment(deployment.id)))!;
    const base = Date.parse(real.createdAt) - count * 60_000;
    for (let i = 0; i < count; i += 5000) {
      const entries = Array.from({ length: Math.min(5000, count - i) }, (_, j) => {
        const n = i + j;
        const at = new Date(base + n * 60_000).toISOString();
        const id = `dep_bench${String(n).padStart(7, '0')}`;
        const copy: DeploymentRecord = { ...real, id, environment: `env-${n % 20}`, createdAt: at, updatedAt: at, finishedAt: at, state: n % 7 === 0 ? 'failure' : 'success' };
        return { key: keys.deployment(id), value: copy };
      });
      await store.insertMissing(entries);
    }
    await store.close();
    const fillSeconds = Math.round((performance.now() - started) / 100) / 10;
    const targets: Record<string, { path: string; admin?: boolean }> = {
      '/': { path: '/' },
      [`${ADMIN_API_PREFIX}/deployments`]: { path: `${ADMIN_API_PREFIX}/deployments`, admin: true },
      '/deployments/:id': { path: `/deployments/${deployment.id}` },
    };
    const p50: Record<string, number> = {};
    for (const [name, { path, admin }] of Object.entries(targets)) {
      const times: number[] = [];
      // One warm-up request each, then the measured ones.
      for (let i = 0; i <= requests; i++) {
        const t0 = performance.now();
        const res = await fetch(`${world.hub.url}${path}`, { headers: admin ? { authorization: `Bearer ${world.hub.adminToken}` } : {} });
        const body = await res.text();
        if (!res.ok) throw new Error(`GET ${path} → HTTP ${res.status}: ${body.slice(0, 300)}`);
        if (i > 0) times.push(performance.now() - t0);
      }
      p50[name] = Math.round(median(times) * 10) / 10;
    }
    return { deployments: count + 1, requests, p50_ms: p50, page_ms: Math.max(...Object.values(p50)), fillSeconds };
  } finally {
    await world.close();
  }
}
