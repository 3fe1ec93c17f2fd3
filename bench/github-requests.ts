/**
 * `github_requests_per_deployment`: how many requests one automatic deployment makes to GitHub, for rollouts to 10,
 * 100 and 1,000 servers. A hub process in GitHub mode talks to the local GitHub stand-in; the servers are simulated
 * agents speaking the real agent API over HTTP (enroll, poll, claim, report), so the hub does all its real work. A
 * deployment is counted from the push to its last status; the target is the same small number at every size.
 */
import { SAMPLE_REPOSITORY, sampleAppFiles } from '../testbed/sample-app.js';
import { startWorld } from '../testbed/world.js';
import { enrollSimulatedAgents, runSimulatedJobs, type SimAgent } from './simulated-agents.js';

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
      while (agents.length < size) agents.push(...(await enrollSimulatedAgents(world, Math.min(50, size - agents.length), agents.length)));
      const github = world.github!;
      const before = github.requests.length;
      const started = Date.now();
      const { sha } = await github.push(SAMPLE_REPOSITORY, 'main', sampleAppFiles(String(i + 2)), `release ${i + 2}`);
      await github.reportCheck(SAMPLE_REPOSITORY, sha, 'test', 'success');
      const deployment = await waitFor(() => github.deployments.find((d) => d.sha === sha), 60_000, 'the GitHub deployment');
      await runSimulatedJobs(world, agents);
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
