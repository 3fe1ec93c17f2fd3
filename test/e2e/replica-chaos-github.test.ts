/**
 * Replicas under fire in GitHub mode: three hub processes on one PostgreSQL database behind a round-robin TCP
 * balancer, the GitHub stand-in delivering its webhooks to the balancer, two real agents that know only the balancer,
 * and deployments made the GitHub way, in a row:
 * - a push and a green check that trigger an automatic deploy (webhooks through the balancer);
 * - the same, the check's delivery posted at once to two replicas (one delivery id: GitHub redelivering it);
 * - a person's GitHub Deployment whose `deployment.created` delivery is posted at once to two replicas;
 * while the leader (pause timers, sweeps) is SIGKILLed at seeded random moments and started again (the seed is
 * printed; `BITENVOY_CHAOS_SEED=<seed>` replays the same moments). At the end, for every GitHub Deployment the
 * stand-in holds: exactly one hub rollout, its statuses end with exactly one final status (`success`) and nothing
 * after it; every step ran exactly once per server (each step appends a line to its server's file); and every request
 * the hub made matches GitHub's REST contract.
 *
 * Progress statuses are coalesced per replica (at most one per 10 s, see status-reporter.ts): the last check waits
 * that long after the last final status, so a stale progress status one replica still owes shows up.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentRecord } from '../../app/model.js';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import type { GitHubStandIn, StandInDeployment } from '../../testbed/github-stand-in.js';
import { runCli, startCli, startHubProcess, type HubProcess, type ManagedProcess } from '../../testbed/processes.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY, sampleAppFiles } from '../../testbed/sample-app.js';
import { startTcpBalancer } from '../../testbed/tcp-balancer.js';
import { startWorld, type World } from '../../testbed/world.js';
import { CHAOS_STEPS as STEPS, CHAOS_STRATEGIES as STRATEGIES, chaosSeed, replicaGauge } from '../helpers/replica-chaos.js';
import { STORE_BACKENDS, createTestDatabase, databaseUrl, dropTestDatabase } from '../helpers/store-backends.js';

const postgres = STORE_BACKENDS.find((b) => b.name === 'postgres')!;
const ADMIN = 'github-chaos-admin-token';
const LEASE_SECONDS = 2;
/** Rounds of deployments, each made one of the three ways in turn. */
const ROUNDS = 6;
/** Longer than the status reporter's progress interval (10 s): a progress status still owed after a final one shows. */
const QUIET_MS = 12_000;
const GITHUB_FINAL = ['success', 'failure', 'error'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));



interface Replica {
  name: string;
  dataDir: string;
  port: number;
  proc: HubProcess | undefined;
}

type Way = 'auto' | 'auto, check delivered to two replicas' | "a person's deployment, delivered to two replicas";
const WAYS: Way[] = ['auto', 'auto, check delivered to two replicas', "a person's deployment, delivered to two replicas"];

/** A replica's gauge without labels, or undefined while it does not answer. */
const gauge = (r: Replica, name: string) => replicaGauge(r.proc, name, ADMIN);

describe.runIf(!postgres.unavailable)('replicas under fire in GitHub mode', () => {
  const { seed, random } = chaosSeed();
  const database = `bitenvoy_test_${randomBytes(6).toString('hex')}`;
  let world: World;
  let github: GitHubStandIn;
  let balancer: Awaited<ReturnType<typeof startTcpBalancer>>;
  const replicas: Replica[] = [];
  const agents: ManagedProcess[] = [];
  /** The GitHub Deployment of each round, as the stand-in holds it. */
  const made: Array<{ way: Way; deployment: StandInDeployment }> = [];
  /** What happened, in order, printed after the run and with a failure. */
  const events: string[] = [];
  const note = (what: string) => events.push(`${new Date().toISOString().slice(11, 23)} ${what}`);
  const story = () => `\n${events.join('\n')}`;
  /** A GitHub Deployment's statuses as people would see them, oldest first. */
  const shown = (d: StandInDeployment) => d.statuses.map((s) => `${String(s.state)} "${String(s.description)}"`).join(' → ');

  const api = async <T>(method: string, path: string): Promise<T> => {
    // Through the balancer; a replica killed under a request is retried on the next.
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(`${balancer.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${ADMIN}` }, signal: AbortSignal.timeout(10_000) });
        const text = await res.text();
        if (res.ok) return JSON.parse(text) as T;
        if (res.status !== 503 || attempt > 50) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
      } catch (err) {
        if (attempt > 50 || (err as Error).message.includes(' → ')) throw err;
      }
      await sleep(200);
    }
  };

  const until = async <T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${story()}`);
      await sleep(100);
    }
  };

  /** Every rollout the hub holds (a test run makes a few: one page). */
  const rollouts = async () => (await api<{ deployments: DeploymentRecord[] }>('GET', '/deployments?limit=500')).deployments;

  /** Each replica process's output (killed ones too), kept when a test fails: which replica sent what. */
  const outputs: Array<{ name: string; text: string }> = [];
  const keepLog = (r: Replica) => r.proc && outputs.push({ name: `${r.name}-${r.proc.child.pid}`, text: r.proc.output() });
  let failed = false;

  const leader = async (): Promise<Replica | undefined> => {
    for (const r of replicas) if ((await gauge(r, 'bitenvoy_leader')) === 1) return r;
    return undefined;
  };

  /** Two different replicas' webhook URLs, chosen by the seed: where a delivery goes twice at once. */
  const twoReplicas = (): string[] => {
    const first = Math.floor(random() * replicas.length);
    const second = (first + 1 + Math.floor(random() * (replicas.length - 1))) % replicas.length;
    note(`delivered to ${replicas[first]!.name} and ${replicas[second]!.name} at once`);
    return [first, second].map((i) => `${replicas[i]!.proc!.url}/api/github/webhooks`);
  };

  /** A new commit of the sample app, deployed to staging the `way` asked; resolves with its GitHub Deployment. */
  const deployTheGitHubWay = async (version: number, way: Way): Promise<StandInDeployment> => {
    const files = { ...sampleAppFiles(String(version)), 'bitenvoy.yml': STEPS };
    if (way === "a person's deployment, delivered to two replicas") {
      // On a branch no environment follows: nothing deploys it but the person's GitHub Deployment.
      const { sha } = await github.push(SAMPLE_REPOSITORY, 'release', files, `version ${version}`);
      return github.createDeployment(SAMPLE_REPOSITORY, sha, SAMPLE_ENVIRONMENT, 'octocat', { to: twoReplicas() });
    }
    const { sha } = await github.push(SAMPLE_REPOSITORY, 'main', files, `version ${version}`);
    await github.reportCheck(SAMPLE_REPOSITORY, sha, 'test', 'success', 'main', way === 'auto' ? {} : { to: twoReplicas() });
    return until(`the GitHub Deployment of ${sha.slice(0, 7)}`, () => github.deployments.find((d) => d.sha === sha));
  };

  beforeAll(async () => {
    console.log(`replica chaos in GitHub mode: seed ${seed} (replay with BITENVOY_CHAOS_SEED=${seed})`);
    await createTestDatabase(database);
    const hubEnv = { BITENVOY_DATABASE_URL: databaseUrl(database), BITENVOY_LEADER_LEASE_SECONDS: String(LEASE_SECONDS), BITENVOY_ADMIN_TOKEN: ADMIN };
    // Replica A is the world's hub (GitHub mode, the stand-in as GitHub Enterprise Server); B and C share its App,
    // store and config.
    world = await startWorld({
      agents: 0,
      github: { requiredChecks: ['test'] },
      strategy: 'chaos',
      configFiles: { 'strategies.yml': STRATEGIES },
      appFiles: { ...sampleAppFiles('1'), 'bitenvoy.yml': STEPS },
      hubEnv,
    });
    github = world.github!;
    replicas.push({ name: 'hub-a', dataDir: world.dataDir, port: world.hub.port, proc: world.hub });
    for (const name of ['hub-b', 'hub-c']) {
      const proc = await startHubProcess({ dataDir: join(world.root, name), env: world.hubEnv, name });
      replicas.push({ name, dataDir: join(world.root, name), port: proc.port, proc });
    }
    balancer = await startTcpBalancer(replicas.map((r) => r.port), { roundRobin: true });
    github.webhookUrl = `${balancer.url}/api/github/webhooks`;
    // Two real agents that know only the balancer; they fetch from the stand-in's git server with installation tokens.
    for (const name of ['web-1', 'web-2']) {
      const token = (await runCli(['hub', 'token', 'create', '--hub', balancer.url, '--token', ADMIN])).trim();
      const dir = join(world.root, 'agents', name);
      await runCli(['agent', 'enroll', '--hub', balancer.url, '--token', token, '--dir', dir, '--name', name, '--labels', 'role=web', '--allow-git-base-url', `${world.git.url}/`, '--allow-branches', 'main,release']);
      agents.push(startCli(name, ['agent', 'run', '--dir', dir], { env: { MARKER_FILE: join(world.markers, name) } }));
    }
    // Every replica has read the owner's config repo before the first webhook.
    for (const r of replicas) {
      await until(`${r.name} to load its config`, async () => {
        const health = (await (await fetch(`${r.proc!.url}/healthz`)).json()) as { configRepos: Array<{ sha?: string }> };
        return health.configRepos[0]?.sha ? true : undefined;
      });
    }
  }, 150_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });

  afterAll(async () => {
    console.log(`replica chaos in GitHub mode (seed ${seed}):${story()}`);
    for (const r of replicas) keepLog(r);
    if (failed) {
      const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-github-chaos-'));
      for (const { name, text } of outputs) await writeFile(join(dir, `${name}.log`), text);
      console.log(`the replicas' logs: ${dir}`);
    }
    await Promise.all(agents.map((a) => a.stop(3000)));
    await Promise.all(replicas.map((r) => r.proc?.stop(3000)));
    await balancer?.stop();
    await world?.close();
    await dropTestDatabase(database);
  });

  it('finishes every GitHub deployment while the leader is SIGKILLed at random moments', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const version = round + 2;
      const way = WAYS[round % WAYS.length]!;
      const deployment = await deployTheGitHubWay(version, way);
      made.push({ way, deployment });
      note(`version ${version} (${way}): GitHub Deployment ${deployment.id}`);
      const kills = 1 + Math.floor(random() * 2);
      for (let k = 0; k < kills; k++) {
        await sleep(200 + Math.floor(random() * 3000));
        const victim = await leader();
        if (!victim?.proc) {
          note('no replica leads just now: nobody killed');
          continue;
        }
        await victim.proc.kill();
        keepLog(victim);
        note(`${victim.name} (leader) SIGKILLed`);
        await sleep(Math.floor(random() * 2000));
        victim.proc = await startHubProcess({ dataDir: victim.dataDir, port: victim.port, env: world.hubEnv, name: victim.name });
        note(`${victim.name} started again (pid ${victim.proc.child.pid})`);
      }
      const final = await until(`a final status on GitHub Deployment ${deployment.id}`, () => deployment.statuses.map((s) => String(s.state)).find((s) => GITHUB_FINAL.includes(s)));
      note(`GitHub Deployment ${deployment.id}: ${final} (${shown(deployment)})`);
      expect(final, story()).toBe('success');
      const rollout = await until(`the rollout of GitHub Deployment ${deployment.id} to end`, async () => {
        const mine = (await rollouts()).find((d) => d.github?.deploymentId === deployment.id);
        return mine && FINAL_DEPLOYMENT_STATES.includes(mine.state) ? mine : undefined;
      });
      expect(rollout.state, story()).toBe('success');
    }
  }, 240_000);

  it('gives every GitHub Deployment one rollout and exactly one final status, nothing after it', async () => {
    // A progress status a replica still owes goes out within its 10 s interval: wait it out, then look.
    await sleep(QUIET_MS);
    expect(github.deployments.map((d) => d.id), story()).toEqual(made.map((m) => m.deployment.id));
    const all = await rollouts();
    for (const { way, deployment } of made) {
      const states = deployment.statuses.map((s) => String(s.state));
      const why = `GitHub Deployment ${deployment.id} (${way}): ${shown(deployment)}${story()}`;
      expect(states.filter((s) => GITHUB_FINAL.includes(s)), why).toEqual(['success']);
      expect(states.at(-1), why).toBe('success');
      expect(all.filter((d) => d.github?.deploymentId === deployment.id).map((d) => d.state), why).toEqual(['success']);
    }
    // No rollout without its GitHub Deployment (a delivery handled twice would make a second one).
    expect(all.map((d) => d.github?.deploymentId).sort(), story()).toEqual(made.map((m) => m.deployment.id).sort());
  }, 60_000);

  it('ran every step exactly once per server', async () => {
    const ids = (await rollouts()).map((d) => d.id);
    for (const name of ['web-1', 'web-2']) {
      const lines = (await readFile(join(world.markers, name), 'utf8')).trim().split('\n').sort();
      const expected = ids.flatMap((id) => [`${id} prepare`, `${id} switch`]).sort();
      expect(lines, `${name}'s step runs${story()}`).toEqual(expected);
    }
  });

  it('made only requests GitHub accepts', () => {
    expect(github.problems()).toEqual([]);
  });
});
