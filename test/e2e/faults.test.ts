/**
 * Faults with real processes: the network between an agent and the hub is cut while a step runs (the agent finishes
 * the step, keeps its events and logs, and delivers them when the network returns; no false failure within the
 * lease); an agent is SIGKILLed mid-step (the hub fails that server when its lease runs out; the restarted agent says
 * "interrupted" at once and never runs the step again); the hub is SIGKILLed at random points, many times over.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCountingProxy, type CountingProxy } from '../../testbed/counting-proxy.js';
import { INTERRUPTED } from '../../agent/run-agent.js';
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

describe('an agent killed mid-step', () => {
  let world: World;
  beforeAll(async () => {
    const files = sampleAppFiles('agent-kill');
    // Each run of the step leaves a line outside the release; the step outlives the test unless something stops it.
    files['bitenvoy.yml'] = 'version: 1\nsteps:\n  - name: slow\n    run: echo "$BITENVOY_JOB_ID" >> "$MARKER_DIR/runs"; echo $$ > "$MARKER_DIR/pid"; sleep 20\n';
    world = await startWorld({ agents: 1, appFiles: files, hubEnv: { BITENVOY_LEASE_SECONDS: '3' } });
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
  });

  it(
    'the hub fails the server once its lease runs out; the restarted agent reports the job interrupted and never re-runs it',
    async () => {
      const { deployment } = await world.deploy();
      await world.waitForRunningJob(deployment.id, 0);
      // `running` is reported before the step starts: kill once the step's shell is there (it writes its pid), and
      // its process group has had a moment to reach the agent's journal.
      await until(async () => (await readFile(join(world.markers, 'pid'), 'utf8').catch(() => '')) || undefined);
      await new Promise((r) => setTimeout(r, 300));
      const killedAt = Date.now();
      await world.agents[0]!.process.kill();
      const view = await world.waitForDeployment(deployment.id, 30_000);
      const detectedMs = Date.now() - killedAt;
      expect(view.deployment.state).toBe('failure');
      expect(view.jobs[0]!).toMatchObject({ state: 'failed', message: 'web-1 stopped renewing its lease: agent lost or disconnected' });
      // Lease 3 s, checked every second: never before the lease, and not long after it.
      expect(detectedMs).toBeGreaterThanOrEqual(1000);
      expect(detectedMs).toBeLessThan(15_000);

      // The agent comes back: its journal says the job was running, so it reports it interrupted and runs nothing.
      const restartedAt = Date.now();
      world.startAgent(0);
      const events = await until(async () => {
        const jobs = (await world.viewDeployment(deployment.id))?.jobs;
        const last = jobs?.[0]?.events.at(-1);
        return last?.type === 'state' && last.state === 'failed' ? jobs![0]!.events : undefined;
      });
      expect(events.at(-1)).toMatchObject({ type: 'state', state: 'failed', message: INTERRUPTED });
      // "At once": from its journal at start, not after any lease or poll (a process start is a second or two here).
      expect(Date.now() - restartedAt).toBeLessThan(10_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect((await readFile(join(world.markers, 'runs'), 'utf8')).trim().split('\n')).toHaveLength(1);
      // The step's shell outlived the agent (its own process group); the restarted agent stopped it, and said so.
      const stepPid = Number(await readFile(join(world.markers, 'pid'), 'utf8'));
      expect(running(stepPid)).toBe(false);
      const log = (await world.viewDeployment(deployment.id))!.jobs[0]!.logTail.join('\n');
      expect(log).toMatch(/the interrupted step was still running \(\d+ process(es)? in group \d+\): stopped with SIGTERM/);
    },
    E2E_TIMEOUT,
  );
});

/** Alive and not a zombie waiting for its parent to reap it. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the hub killed at random points, many times over', () => {
  let world: World;
  beforeAll(async () => {
    const files = sampleAppFiles('kills');
    // Every run of a step leaves a line outside the release: a step run twice would show.
    files['bitenvoy.yml'] = `version: 1
steps:
  - name: first
    run: echo "$BITENVOY_JOB_ID first" >> "$MARKER_DIR/runs"; sleep 0.3
  - name: second
    run: echo "$BITENVOY_JOB_ID second" >> "$MARKER_DIR/runs"; sleep 0.3
`;
    world = await startWorld({ agents: 2, appFiles: files, strategy: 'one-at-a-time' });
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
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
      const runs = (await readFile(join(world.markers, 'runs'), 'utf8')).trim().split('\n');
      // 3 rollouts × 2 servers × 2 steps, each exactly once.
      expect(runs).toHaveLength(12);
      expect(new Set(runs).size).toBe(12);
      for (const id of ids) expect(runs.filter((r) => r.includes(id.replace('dep_', ''))).length).toBe(4);
    },
    E2E_TIMEOUT * 2,
  );
});
