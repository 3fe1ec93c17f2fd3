/**
 * Tests and the demo look at a deployment of a few servers whole: its summary, then every page of servers, each
 * server's job record and log tail, through the admin API's bounded routes. Fine for a handful of servers; the hub
 * itself never builds this for a request (a 10,000-server rollout is read as a summary and pages).
 *
 * @example
 * const whole = await readWholeDeployment((path) => api('GET', path), 'dep_1a2b');
 * whole?.jobs.map((j) => `${j.agentName}: ${j.state}`);
 */
import type { DeploymentSummary, ServerDetail, ServerPage } from '../app/rollout/deployment-view.js';

/** A deployment's summary with every server's job (events included) and its log tail, in plan order. */
export interface WholeDeployment extends DeploymentSummary {
  jobs: Array<ServerDetail & { logTail: string[] }>;
}

/** Reads JSON from an admin API path under `/api/v1` (e.g. `/deployments/dep_1`); throws on a non-2xx answer. */
export type AdminGet = <T>(path: string) => Promise<T>;

export async function readWholeDeployment(get: AdminGet, id: string): Promise<WholeDeployment> {
  const base = `/deployments/${encodeURIComponent(id)}`;
  const summary = await get<DeploymentSummary>(base);
  const jobs: WholeDeployment['jobs'] = [];
  let after: string | undefined;
  do {
    const page = await get<ServerPage>(`${base}/servers?limit=200${after ? `&after=${after}` : ''}`);
    for (const row of page.servers) {
      const path = `${base}/servers/${encodeURIComponent(row.jobId)}`;
      const [{ server }, log] = await Promise.all([get<{ server: ServerDetail }>(path), get<{ lines: string[] }>(`${path}/log`)]);
      jobs.push({ ...server, logTail: log.lines });
    }
    after = page.next;
  } while (after);
  return { ...summary, jobs };
}
