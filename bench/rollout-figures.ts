/**
 * Issue 5's figures.
 *
 *   rollout_overhead_ms   all-at-once to 100 agents whose step takes no time: from the deployments API call to the
 *                         rollout's final state, as the hub records them (p50 of 5). The agents are simulated over
 *                         the real agent API (poll, claim, report) — what is measured is the hub's own work; a real
 *                         agent's fetch of the commit is measured by start_latency_ms.
 *   failure_detection_ms  a real agent killed (SIGKILL) mid-step → the hub marks its job failed, with the hub's
 *                         default lease settings (reported next to the figure).
 */
import { DEFAULT_SETTINGS } from '../lib/protocol.js';
import { sampleAppFiles } from '../testbed/sample-app.js';
import { startWorld } from '../testbed/world.js';
import { enrollSimulatedAgents, runSimulatedJobs, type SimAgent } from './simulated-agents.js';

export async function measureRolloutOverhead(agentCount: number, runs: number): Promise<number[]> {
  const world = await startWorld({ agents: 0, hubEnv: { BITENVOY_CONFIG_REFRESH_SECONDS: '3600', LOG_LEVEL: 'warn', BITENVOY_HEARTBEAT_SECONDS: '600' } });
  try {
    const agents: SimAgent[] = [];
    while (agents.length < agentCount) agents.push(...(await enrollSimulatedAgents(world, Math.min(50, agentCount - agents.length), agents.length)));
    const overheads: number[] = [];
    for (let i = 0; i < runs; i++) {
      const { deployment } = await world.deploy();
      await runSimulatedJobs(world, agents);
      const view = await world.waitForDeployment(deployment.id, 120_000);
      if (view.deployment.state !== 'success') throw new Error(`rollout ${deployment.id} ended ${view.deployment.state}: ${view.deployment.description}`);
      // The steps take no time: everything between creation and the final state is overhead.
      overheads.push(Date.parse(view.deployment.finishedAt!) - Date.parse(view.deployment.createdAt));
    }
    return overheads;
  } finally {
    await world.close();
  }
}

export async function measureFailureDetection(): Promise<{ ms: number; leaseSeconds: number; heartbeatSeconds: number }> {
  const files = sampleAppFiles('slow');
  files['bitenvoy.yml'] = 'version: 1\nsteps:\n  - name: long\n    run: sleep 600\n';
  const world = await startWorld({ agents: 1, appFiles: files, hubEnv: { LOG_LEVEL: 'warn' } });
  try {
    const { deployment } = await world.deploy();
    await world.waitForRunningJob(deployment.id, 0);
    const killedAt = Date.now();
    world.agents[0]!.process.child.kill('SIGKILL');
    const view = await world.waitForDeployment(deployment.id, (DEFAULT_SETTINGS.leaseSeconds + 60) * 1000);
    const failedAt = Date.parse(view.jobs[0]!.finishedAt!);
    return { ms: failedAt - killedAt, leaseSeconds: DEFAULT_SETTINGS.leaseSeconds, heartbeatSeconds: DEFAULT_SETTINGS.heartbeatSeconds };
  } finally {
    await world.close();
  }
}
