/**
 * Faults with real processes: the network between an agent and the hub is cut while a step runs. The agent finishes
 * the step, keeps its events and logs, and delivers them when the network returns; the hub reports no false failure
 * within the lease.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
      await world.waitForRunningJob(deployment.id, 0);
      proxy.cut();
      // The step ends (2 s) while the agent cannot reach the hub; the hub hears nothing for 4 s.
      await new Promise((r) => setTimeout(r, 4000));
      const during = await world.viewDeployment(deployment.id);
      expect(during?.jobs[0]!.state).toBe('running');
      proxy.restore();
      const done = await world.waitForDeployment(deployment.id, 60_000);
      expect(done.deployment.state).toBe('success');
      expect(done.jobs[0]!.events.map((e) => (e.type === 'state' ? e.state : `${e.step.name}:${e.status}`))).toEqual(['fetching', 'running', 'slow:started', 'slow:succeeded', 'succeeded']);
      expect(done.jobs[0]!.logTail.join('\n')).toContain('after the cut');
    },
    E2E_TIMEOUT,
  );
});

describe('the hub killed at random points, many times over', () => {
  let world: World;
  let markers: string;
  beforeAll(async () => {
    markers = await mkdtemp(join(tmpdir(), 'bitenvoy-kills-'));
    const files = sampleAppFiles('kills');
    // Every run of a step leaves a line outside the release: a step run twice would show.
    files['bitenvoy.yml'] = `version: 1
steps:
  - name: first
    run: echo "$BITENVOY_JOB_ID first" >> "$MARKER_DIR/runs"; sleep 0.3
  - name: second
    run: echo "$BITENVOY_JOB_ID second" >> "$MARKER_DIR/runs"; sleep 0.3
`;
    world = await startWorld({ agents: 2, appFiles: files, strategy: 'one-at-a-time', agentEnv: { MARKER_DIR: markers } });
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
    await rm(markers, { recursive: true, force: true });
  });

  it(
    'every rollout reaches a final state, no job is lost and no step runs twice on any server',
    async () => {
      // Seeded, so a failure can be replayed: the kill points differ from run to run of the loop, not of the suite.
      let seed = 20261125;
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      const ids: string[] = [];
      for (let round = 0; round < 3; round++) {
        const { deployment } = await world.deploy();
        ids.push(deployment.id);
        for (let kill = 0; kill < 2; kill++) {
          await new Promise((r) => setTimeout(r, Math.floor(random() * 900)));
          await world.restartHub('SIGKILL');
        }
        const view = await world.waitForDeployment(deployment.id, 90_000);
        expect([deployment.id, view.deployment.state]).toEqual([deployment.id, 'success']);
        expect(view.jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
      }
      const runs = (await readFile(join(markers, 'runs'), 'utf8')).trim().split('\n');
      // 3 rollouts × 2 servers × 2 steps, each exactly once.
      expect(runs).toHaveLength(12);
      expect(new Set(runs).size).toBe(12);
      for (const id of ids) expect(runs.filter((r) => r.includes(id.replace('dep_', ''))).length).toBe(4);
    },
    E2E_TIMEOUT * 2,
  );
});
