/**
 * The read figures, against a real hub process and a real SQLite file holding 100,000 deployments
 * (BENCH_PAGES_DEPLOYMENTS), 1,000 agents (BENCH_PAGES_AGENTS) and a config of 200 repository × environment pairs
 * (40 repositories × 5 environments):
 *
 *   page_ms            issue 13: the slowest p50 of the deployments list (`GET /deployments`), `GET /api/v1/deployments`
 *                      and a deployment's page; target ≤ 20
 *   dashboard_page_ms  issue 15: the slowest p50 of the Environments page (`GET /`, the first 50 pairs), an
 *                      Environment page (its history the newest 20 of 100,000 / 200 deployments, and its servers) and
 *                      a deployment's page; target ≤ 50
 *
 * The deployments are written straight into the hub's store (copies of one real deployment with their own ids and
 * times, spread over the 200 pairs; the first pair, the real one's, gets a tenth of them), so the figures are about
 * reading a long history, not about making it; so are the agents, and what each runs (`releases`): every agent has
 * a release in the real deployment's pair (a tenth of them on another commit, so drift is counted and the servers
 * table pages) and one in the pair of its own number's deployment.
 */
import { ADMIN_API_PREFIX } from '../lib/protocol.js';
import { keys, type AgentRecord, type DeploymentRecord } from '../app/model.js';
import { openStore } from '../app/store/open-store.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY } from '../testbed/sample-app.js';
import { startWorld } from '../testbed/world.js';

export const PAGE_TARGET_MS = 20;
export const DASHBOARD_PAGE_TARGET_MS = 50;

const BENCH_REPOSITORIES = 40;
const ENVIRONMENTS = ['staging', 'qa', 'canary', 'production', 'dr'];

/** Config files for 39 more repositories with 5 environments each (the sample app's staging is the 200th pair). */
function benchConfigFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let r = 1; r < BENCH_REPOSITORIES; r++) {
    files[`repositories/bench/app-${r}.yml`] = `git: https://git.invalid/bench/app-${r}.git\nenvironments:\n${ENVIRONMENTS.map((e) => `  ${e}:\n    branch: main\n    group: web\n    strategy: all-at-once\n`).join('')}`;
  }
  return files;
}

/** The pair the n-th copy goes to: a tenth to the real deployment's, the rest spread over all 200. */
function pairOf(n: number): { repository: string; environment: string } {
  if (n % 10 === 0) return { repository: SAMPLE_REPOSITORY, environment: SAMPLE_ENVIRONMENT };
  const r = n % BENCH_REPOSITORIES;
  if (r === 0) return { repository: SAMPLE_REPOSITORY, environment: SAMPLE_ENVIRONMENT };
  return { repository: `bench/app-${r}`, environment: ENVIRONMENTS[Math.floor(n / BENCH_REPOSITORIES) % ENVIRONMENTS.length]! };
}

export interface PageFigures {
  deployments: number;
  requests: number;
  p50_ms: Record<string, number>;
  page_ms: number;
  dashboard_page_ms: number;
  agents: number;
  pairs: number;
  fillSeconds: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function measurePages(count: number, requests = 30, agentCount = 1000): Promise<PageFigures> {
  const world = await startWorld({ agents: 1, configFiles: benchConfigFiles() });
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
        const copy: DeploymentRecord = { ...real, id, ...pairOf(n), createdAt: at, updatedAt: at, finishedAt: at, state: n % 7 === 0 ? 'failure' : 'success' };
        return { key: keys.deployment(id), value: copy };
      });
      await store.insertMissing(entries);
    }
    const seen = new Date().toISOString();
    for (let i = 0; i < agentCount; i += 500) {
      const agents = Array.from({ length: Math.min(500, agentCount - i) }, (_, j): AgentRecord => {
        const n = i + j;
        return { id: `ag_bench${String(n).padStart(5, '0')}`, name: `bench-${String(n).padStart(5, '0')}`, labels: { role: n % 2 ? 'web' : 'worker' }, version: 'bench', credentialHash: `bench-${n}`, enrolledAt: seen, lastSeenAt: seen };
      });
      await store.insertMissing(agents.map((a) => ({ key: keys.agent(a.id), value: a })));
      await store.runBatch(
        agents.flatMap((a, j) => {
          const n = i + j;
          const own = pairOf(n);
          const release = (repository: string, environment: string, sha: string, deploymentId: string) => ({
            sql: 'INSERT INTO releases (repository, environment, agent_id, sha, deployment_id, job_id, job_created_at, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
            params: [repository, environment, a.id, sha, deploymentId, `job_bench_${n}`, seen, seen],
          });
          return [
            release(SAMPLE_REPOSITORY, SAMPLE_ENVIRONMENT, n % 10 === 0 ? 'f'.repeat(40) : real.sha, real.id),
            ...(n < count && (own.repository !== SAMPLE_REPOSITORY || own.environment !== SAMPLE_ENVIRONMENT) ? [release(own.repository, own.environment, real.sha, `dep_bench${String(n).padStart(7, '0')}`)] : []),
          ];
        }),
      );
    }
    await store.close();
    const fillSeconds = Math.round((performance.now() - started) / 100) / 10;
    const targets: Record<string, { path: string; admin?: boolean }> = {
      '/deployments': { path: '/deployments' },
      [`${ADMIN_API_PREFIX}/deployments`]: { path: `${ADMIN_API_PREFIX}/deployments`, admin: true },
      '/deployments/:id': { path: `/deployments/${deployment.id}` },
      '/ (environments)': { path: '/' },
      '/environments/:repository/:environment': { path: `/environments/${SAMPLE_REPOSITORY}/${SAMPLE_ENVIRONMENT}` },
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
    const slowest = (names: string[]) => Math.max(...names.map((name) => p50[name]!));
    return {
      deployments: count + 1,
      agents: agentCount + 1,
      pairs: BENCH_REPOSITORIES * ENVIRONMENTS.length,
      requests,
      p50_ms: p50,
      page_ms: slowest(['/deployments', `${ADMIN_API_PREFIX}/deployments`, '/deployments/:id']),
      dashboard_page_ms: slowest(['/ (environments)', '/environments/:repository/:environment', '/deployments/:id']),
      fillSeconds,
    };
  } finally {
    await world.close();
  }
}
