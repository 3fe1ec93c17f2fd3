/**
 * Faults with real processes: the network between an agent and the hub is cut while a step runs. The agent finishes
 * the step, keeps its events and logs, and delivers them when the network returns; the hub reports no false failure
 * within the lease.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCountingProxy, type CountingProxy } from '../../testbed/counting-proxy.js';
import { createEnrollTokenCli, runCli, startCli, type ManagedProcess } from '../../testbed/processes.js';
import { sampleAppFiles } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';

const E2E_TIMEOUT = 120_000;

describe('the network cut between an agent and the hub', () => {
  let world: World;
  let proxy: CountingProxy;
  let agent: ManagedProcess;
  beforeAll(async () => {
    const files = sampleAppFiles('cut');
    files['bitenvoy.yml'] = 'version: 1\nsteps:\n  - name: slow\n    run: echo before; sleep 2; echo after the cut\n';
    world = await startWorld({ agents: 0, appFiles: files, hubEnv: { BITENVOY_LEASE_SECONDS: '15' } });
    proxy = await startCountingProxy(world.hub.url);
    const dir = join(world.root, 'agents', 'behind-proxy');
    const token = await createEnrollTokenCli(world.dataDir);
    await runCli(['agent', 'enroll', '--hub', proxy.url, '--token', token, '--dir', dir, '--name', 'web-1', '--labels', 'role=web']);
    agent = startCli('web-1', ['agent', 'run', '--dir', dir]);
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await agent?.stop(3000);
    await proxy?.close();
    await world?.close();
  });

  it(
    'delivers the step it finished while cut off once the network returns, and the rollout succeeds',
    async () => {
      const { deployment } = await world.deploy();
      const view = async () =>
        (await (await fetch(`${world.hub.url}/api/v1/deployments/${deployment.id}`, { headers: { authorization: `Bearer ${world.hub.adminToken}` } })).json()) as Awaited<
          ReturnType<World['waitForDeployment']>
        >;
      for (let v = await view(); v.jobs[0]?.state !== 'running'; v = await view()) await new Promise((r) => setTimeout(r, 50));
      proxy.cut();
      // The step ends (2 s) while the agent cannot reach the hub; the hub hears nothing for 4 s.
      await new Promise((r) => setTimeout(r, 4000));
      const during = await view();
      expect(during.jobs[0]!.state).toBe('running');
      proxy.restore();
      const done = await world.waitForDeployment(deployment.id, 60_000);
      expect(done.deployment.state).toBe('success');
      expect(done.jobs[0]!.events.map((e) => (e.type === 'state' ? e.state : `${e.step.name}:${e.status}`))).toEqual(['fetching', 'running', 'slow:started', 'slow:succeeded', 'succeeded']);
      expect(done.jobs[0]!.logTail.join('\n')).toContain('after the cut');
    },
    E2E_TIMEOUT,
  );
});
