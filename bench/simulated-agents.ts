/**
 * Simulated agents for benchmarks: they speak the real agent API over HTTP (enroll, poll, claim, report) but run no
 * step, so a benchmark measures the hub's own work at sizes no machine here could run as real processes.
 */
import type { World } from '../testbed/world.js';
import { AGENT_API_PREFIX, ADMIN_API_PREFIX } from '../lib/protocol.js';

export interface SimAgent {
  id: string;
  credential: string;
}

async function api<T>(world: World, method: string, path: string, body: unknown, token: string): Promise<{ status: number; json: T }> {
  const res = await fetch(`${world.hub.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

export async function enrollSimulatedAgents(world: World, count: number, offset: number): Promise<SimAgent[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, k) => {
      const { json: minted } = await api<{ token: string }>(world, 'POST', `${ADMIN_API_PREFIX}/enrollment-tokens`, undefined, world.hub.adminToken);
      const res = await fetch(`${world.hub.url}${AGENT_API_PREFIX}/enroll`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: minted.token, name: `sim-${offset + k + 1}`, labels: { role: 'web' }, version: 'bench' }),
      });
      const json = (await res.json()) as { agentId: string; credential: string };
      if (res.status !== 201) throw new Error(`enrollment failed: ${JSON.stringify(json)}`);
      return { id: json.agentId, credential: json.credential };
    }),
  );
}

/** Every simulated agent takes its job and reports it done, 50 at a time. */
export async function runSimulatedJobs(world: World, agents: SimAgent[]): Promise<void> {
  const queue = [...agents];
  const worker = async () => {
    for (let agent = queue.shift(); agent; agent = queue.shift()) {
      const next = await api<{ job: { id: string } }>(world, 'GET', `${AGENT_API_PREFIX}/jobs/next?wait=10`, undefined, agent.credential);
      if (next.status !== 200) throw new Error(`agent ${agent.id} got no job (HTTP ${next.status})`);
      const jobId = next.json.job.id;
      const claimId = `cl_${agent.id.slice(3)}_${jobId.slice(-6)}`;
      const claim = await api(world, 'POST', `${AGENT_API_PREFIX}/jobs/${jobId}/claim`, { claimId }, agent.credential);
      if (claim.status !== 200) throw new Error(`claim of ${jobId} failed: ${JSON.stringify(claim.json)}`);
      const at = new Date().toISOString();
      const events = [
        { seq: 1, at, type: 'state', state: 'running' },
        { seq: 2, at, type: 'state', state: 'succeeded' },
      ];
      const done = await api(world, 'POST', `${AGENT_API_PREFIX}/jobs/${jobId}/events`, { claimId, events }, agent.credential);
      if (done.status !== 200) throw new Error(`events of ${jobId} refused: ${JSON.stringify(done.json)}`);
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
}

