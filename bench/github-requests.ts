/**
 * `github_requests_per_deployment`: how many requests one automatic deployment makes to GitHub, for rollouts to 10,
 * 100 and 1,000 servers. A hub process in GitHub mode talks to the local GitHub stand-in; the servers are simulated
 * agents speaking the real agent API over HTTP (enroll, poll, claim, report), so the hub does all its real work. A
 * deployment is counted from the push to its last status; the target is the same small number at every size.
 */
import { SAMPLE_REPOSITORY, sampleAppFiles } from '../testbed/sample-app.js';
import { startWorld, type World } from '../testbed/world.js';
import { AGENT_API_PREFIX, ADMIN_API_PREFIX } from '../lib/protocol.js';

interface SimAgent {
  id: string;
  credential: string;
}

export interface GitHubRequestFigure {
  agents: number;
  requests: number;
  by_operation: Record<string, number>;
  rollout_seconds: number;
}

export async function measureGitHubRequests(sizes: number[]): Promise<GitHubRequestFigure[]> {
  const world = await startWorld({
    agents: 0,
    github: { requiredChecks: ['test'] },
    hubEnv: { BITENVOY_CONFIG_REFRESH_SECONDS: '3600', LOG_LEVEL: 'warn', BITENVOY_HEARTBEAT_SECONDS: '600' },
  });
  try {
    const agents: SimAgent[] = [];
    const figures: GitHubRequestFigure[] = [];
    for (const [i, size] of sizes.entries()) {
      while (agents.length < size) agents.push(...(await enroll(world, Math.min(50, size - agents.length), agents.length)));
      const github = world.github!;
      const before = github.requests.length;
      const started = Date.now();
      const { sha } = await github.push(SAMPLE_REPOSITORY, 'main', sampleAppFiles(String(i + 2)), `release ${i + 2}`);
      await github.reportCheck(SAMPLE_REPOSITORY, sha, 'test', 'success');
      const deployment = await waitFor(() => github.deployments.find((d) => d.sha === sha), 60_000, 'the GitHub deployment');
      await runJobs(world, agents);
      await waitFor(() => deployment.statuses.some((s) => s.state === 'success' || s.state === 'failure' || s.state === 'error'), 120_000, 'a final status');
      const final = deployment.statuses.at(-1)!;
      if (final.state !== 'success') throw new Error(`the ${size}-server deployment ended ${String(final.state)}: ${String(final.description)}`);
      // Anything still trailing (a coalesced status) belongs to this deployment: wait for quiet.
      await quiet(() => github.requests.length, 1500);
      const made = github.requests.slice(before);
      const byOperation: Record<string, number> = {};
      for (const r of made) {
        const op = `${r.method} ${r.path.replace(/\/[0-9a-f]{40}\//, '/{sha}/').replace(/\/\d+(?=\/|$)/g, '/{id}')}`;
        byOperation[op] = (byOperation[op] ?? 0) + 1;
      }
      figures.push({ agents: size, requests: made.length, by_operation: byOperation, rollout_seconds: Math.round((Date.now() - started) / 100) / 10 });
    }
    const problems = world.github!.problems();
    if (problems.length) throw new Error(`GitHub would have refused requests:\n${problems.join('\n')}`);
    return figures;
  } finally {
    await world.close();
  }
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

async function enroll(world: World, count: number, offset: number): Promise<SimAgent[]> {
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
async function runJobs(world: World, agents: SimAgent[]): Promise<void> {
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

async function waitFor<T>(probe: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function quiet(count: () => number, ms: number): Promise<void> {
  let last = count();
  for (;;) {
    await new Promise((r) => setTimeout(r, ms));
    if (count() === last) return;
    last = count();
  }
}
