/**
 * Replicas under fire: three hub processes on one PostgreSQL database behind a round-robin TCP balancer, two real
 * agents and a simulated fleet of 50 (bench/fleet-simulator.ts, in a process of its own) that know only the balancer,
 * and rollouts in a row (a rolling strategy, half the servers per batch, a pause between batches that only the leader
 * ends) while
 * - the leader is SIGKILLed at random moments and started again (seeded: the seed is printed, and
 *   `BITENVOY_CHAOS_SEED=<seed>` replays the same moments);
 * - every replica loses PostgreSQL at once mid-rollout (the connections cut by a TCP proxy between each replica and
 *   the database, which is what a PostgreSQL restart does to them, without restarting the server other tests share);
 * - the leader alone loses its database: it stops leading within the lease and another replica takes over.
 * Every rollout ends in success with every server's job succeeded, and every step ran exactly once on each real
 * server: each step appends a line to its server's own file, read at the end.
 *
 * Local mode (the admin API starts the rollouts): GitHub mode's stand-in would add a fourth kind of process to a
 * machine already loaded; test/e2e/github-app.test.ts covers GitHub's final statuses across a hub restart.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { startCuttableTcpProxy, type CuttableTcpProxy } from '../../testbed/cuttable-tcp-proxy.js';
import { pushCommit } from '../../testbed/git-repos.js';
import { runCli, startCli, startHubProcess, type HubProcess, type ManagedProcess } from '../../testbed/processes.js';
import { sampleAppFiles } from '../../testbed/sample-app.js';
import { startTcpBalancer } from '../../testbed/tcp-balancer.js';
import { startWorld, type World } from '../../testbed/world.js';
import { LEADER_KEY } from '../../app/store/leader-lease.js';
import type { DeploymentSummary } from '../../app/rollout/deployment-view.js';
import type { SimulatorMessage, SimulatorStart } from '../../bench/fleet-simulator.js';
import { packageRoot } from '../../lib/package-root.js';
import { CHAOS_STEPS as STEPS, CHAOS_STRATEGIES as STRATEGIES, chaosSeed, replicaGauge } from '../helpers/replica-chaos.js';
import { STORE_BACKENDS, TEST_DATABASE_URL, createTestDatabase, databaseUrl, dropTestDatabase, withAdminClient } from '../helpers/store-backends.js';

const postgres = STORE_BACKENDS.find((b) => b.name === 'postgres')!;
const ADMIN = 'chaos-admin-token';
const LEASE_SECONDS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** Simulated agents besides the two real ones (in the first batch: \`fleet-…\` sorts before \`web-…\`). */
const FLEET = 50;
const SERVERS = FLEET + 2;

interface Replica {
  name: string;
  dataDir: string;
  port: number;
  env: NodeJS.ProcessEnv;
  /** Between this replica and PostgreSQL: cut it to take the database away from this replica alone. */
  proxy: CuttableTcpProxy;
  proc: HubProcess | undefined;
}

/** A replica's gauge without labels, or undefined while it does not answer. */
const gauge = (r: Replica, name: string) => replicaGauge(r.proc, name, ADMIN);

describe.runIf(!postgres.unavailable)('replicas under fire', () => {
  const { seed, random } = chaosSeed();
  const database = `bitenvoy_test_${randomBytes(6).toString('hex')}`;
  let world: World;
  let balancer: Awaited<ReturnType<typeof startTcpBalancer>>;
  const replicas: Replica[] = [];
  const agents: ManagedProcess[] = [];
  let fleet: ChildProcess | undefined;
  let fleetLast: SimulatorMessage | undefined;
  const deployments: string[] = [];
  /** What happened, in order, printed when a test fails. */
  const events: string[] = [];
  const note = (what: string) => events.push(`${new Date().toISOString().slice(11, 23)} ${what}`);

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    // Through the balancer; a replica killed under a request is retried on the next.
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(`${balancer.url}/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        if (res.ok) return JSON.parse(text) as T;
        // 503: that replica has no database just now; another may.
        if (res.status !== 503 || attempt > 50) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
      } catch (err) {
        if (attempt > 50 || (err as Error).message.includes(' → ')) throw err;
      }
      await sleep(200);
    }
  };

  const startReplica = async (r: Replica) => {
    r.proc = await startHubProcess({ dataDir: r.dataDir, port: r.port, env: r.env, name: r.name });
    note(`${r.name} started (pid ${r.proc.child.pid})`);
  };

  /** The replica whose /metrics says it leads; undefined while none does (a lease running out). */
  const leader = async (): Promise<Replica | undefined> => {
    for (const r of replicas) if ((await gauge(r, 'bitenvoy_leader')) === 1) return r;
    return undefined;
  };

  /** The holder the store's lease row names, and until when. */
  const leaseRow = () =>
    withAdminClient(async (client) => {
      const row = (await client.query<{ value: string }>('SELECT value FROM kv WHERE key = $1', [LEADER_KEY])).rows[0];
      return row ? { holder: /"holder":"([^"]+)"/.exec(row.value)?.[1], until: /"until":"([^"]+)"/.exec(row.value)?.[1] } : undefined;
    }, database);

  /** The deployment's summary once final: its state and its jobs counted by state (no page of servers needed). */
  const waitFinal = async (id: string, timeoutMs = 60_000): Promise<{ id: string; state: string; jobs: Record<string, number> }> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { deployment, counts } = await api<DeploymentSummary>('GET', `/deployments/${id}`);
      if (FINAL_DEPLOYMENT_STATES.includes(deployment.state)) return { id, state: deployment.state, jobs: Object.fromEntries(Object.entries(counts).filter(([, n]) => n)) };
      if (Date.now() > deadline) throw new Error(`deployment ${id} not final after ${timeoutMs} ms: ${JSON.stringify(deployment)}\n${events.join('\n')}`);
      await sleep(200);
    }
  };

  /** A new commit of the sample app and a rollout of it, asked of whichever replica the balancer picks. */
  const rollout = async (version: number): Promise<string> => {
    await pushCommit(world.appRepo, { ...sampleAppFiles(String(version)), 'bitenvoy.yml': STEPS }, `version ${version}`);
    const { deployment } = await api<{ deployment: { id: string } }>('POST', '/deployments', { repository: 'demo/shop', ref: 'main', environment: 'staging' });
    deployments.push(deployment.id);
    note(`rollout ${deployment.id} of version ${version} asked`);
    return deployment.id;
  };

  /** Stops the simulated fleet; its last word (`stopped`: what it did, every job id it finished). */
  const stopFleet = async (): Promise<SimulatorMessage | undefined> => {
    if (fleet?.connected) {
      const exited = new Promise((resolve) => fleet!.once('exit', resolve));
      fleet.send({ type: 'stop' });
      await exited;
      if (fleetLast?.type === 'stopped') note(`simulated fleet: ${JSON.stringify(fleetLast.stats)}`);
    }
    return fleetLast;
  };

  beforeAll(async () => {
    console.log(`replica chaos: seed ${seed} (replay with BITENVOY_CHAOS_SEED=${seed})`);
    await createTestDatabase(database);
    const real = new URL(TEST_DATABASE_URL);
    const proxies = await Promise.all([0, 1, 2].map(() => startCuttableTcpProxy({ host: real.hostname, port: Number(real.port || 5432) })));
    const viaProxy = (p: CuttableTcpProxy) => {
      const url = new URL(databaseUrl(database));
      url.hostname = '127.0.0.1';
      url.port = String(p.port);
      return url.toString();
    };
    const common = { BITENVOY_LEADER_LEASE_SECONDS: String(LEASE_SECONDS), BITENVOY_ADMIN_TOKEN: ADMIN, BITENVOY_CONFIG_REFRESH_SECONDS: '2' };
    // Replica A is the world's hub; B and C share its store and config repo.
    world = await startWorld({ agents: 0, strategy: 'chaos', configFiles: { 'strategies.yml': STRATEGIES }, appFiles: { ...sampleAppFiles('1'), 'bitenvoy.yml': STEPS }, hubEnv: { ...common, BITENVOY_DATABASE_URL: viaProxy(proxies[0]!) } });
    const configRepo = `${world.git.url}/bitenvoy/.bitenvoy.git`;
    replicas.push({ name: 'hub-a', dataDir: world.dataDir, port: world.hub.port, env: { ...common, BITENVOY_CONFIG_REPO: configRepo, BITENVOY_DATABASE_URL: viaProxy(proxies[0]!) }, proxy: proxies[0]!, proc: world.hub });
    for (const [i, name] of [[1, 'hub-b'], [2, 'hub-c']] as const) {
      const r: Replica = { name, dataDir: join(world.root, name), port: 0, env: { ...common, BITENVOY_CONFIG_REPO: configRepo, BITENVOY_DATABASE_URL: viaProxy(proxies[i]!) }, proxy: proxies[i]!, proc: undefined };
      r.proc = await startHubProcess({ dataDir: r.dataDir, env: r.env, name });
      r.port = r.proc.port;
      replicas.push(r);
    }
    balancer = await startTcpBalancer(replicas.map((r) => r.port), { roundRobin: true });
    // Two real agents that know only the balancer; each step run leaves a line in its server's file.
    for (const name of ['web-1', 'web-2']) {
      const token = (await runCli(['hub', 'token', 'create', '--hub', balancer.url, '--token', ADMIN])).trim();
      const dir = join(world.root, 'agents', name);
      await runCli(['agent', 'enroll', '--hub', balancer.url, '--token', token, '--dir', dir, '--name', name, '--labels', 'role=web']);
      agents.push(startCli(name, ['agent', 'run', '--dir', dir], { env: { MARKER_FILE: join(world.markers, name) } }));
    }
    // The simulated fleet: enrolled through the balancer, a long poll each on whichever replica it lands.
    fleet = fork(join(packageRoot(), 'dist', 'bench', 'fleet-simulator.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    const enrolled = new Promise<SimulatorMessage>((resolve) => fleet!.on('message', (m: SimulatorMessage) => ((fleetLast = m), m.type !== 'stats' && resolve(m))));
    fleet.send({ type: 'start', hubUrl: balancer.url, adminToken: ADMIN, count: FLEET, concurrency: 10, deadlineSeconds: 400 } satisfies SimulatorStart);
    expect((await enrolled).type).toBe('enrolled');
  }, 150_000);

  afterAll(async () => {
    await stopFleet();
    console.log(`replica chaos (seed ${seed}):\n${events.join('\n')}`);
    await Promise.all(agents.map((a) => a.stop(3000)));
    await Promise.all(replicas.map((r) => r.proc?.stop(3000)));
    await balancer?.stop();
    await world?.close();
    await Promise.all(replicas.map((r) => r.proxy.close()));
    await dropTestDatabase(database);
  });

  it('finishes every rollout, each step once per server, while the leader is SIGKILLed at random moments', async () => {
    for (let version = 2; version <= 5; version++) {
      const id = await rollout(version);
      const kills = 1 + Math.floor(random() * 2);
      for (let k = 0; k < kills; k++) {
        await sleep(300 + Math.floor(random() * 2500));
        const victim = await leader();
        if (!victim?.proc) {
          note('no replica leads just now: nobody killed');
          continue;
        }
        await victim.proc.kill();
        note(`${victim.name} (leader) SIGKILLed`);
        const downFor = Math.floor(random() * 2000);
        await sleep(downFor);
        await startReplica(victim);
      }
      const done = await waitFinal(id);
      note(`rollout ${id}: ${done.state}`);
      expect(done).toEqual({ id, state: 'success', jobs: { succeeded: SERVERS } });
    }
  }, 150_000);

  it('finishes a rollout during which every replica lost PostgreSQL for a few seconds', async () => {
    const id = await rollout(6);
    await sleep(500 + Math.floor(random() * 1500));
    for (const r of replicas) r.proxy.cut();
    note('PostgreSQL cut from every replica');
    await sleep(3000);
    for (const r of replicas) r.proxy.restore();
    note('PostgreSQL back');
    expect(await waitFinal(id)).toEqual({ id, state: 'success', jobs: { succeeded: SERVERS } });
  }, 90_000);

  it('ran every step exactly once per server', async () => {
    for (const name of ['web-1', 'web-2']) {
      const lines = (await readFile(join(world.markers, name), 'utf8')).trim().split('\n').sort();
      const expected = deployments.flatMap((id) => [`${id} prepare`, `${id} switch`]).sort();
      expect(lines, `${name}'s step runs\n${events.join('\n')}`).toEqual(expected);
    }
    // Each simulated server took, claimed and finished its job of every rollout once.
    const last = await stopFleet();
    expect(last?.type).toBe('stopped');
    if (last?.type !== 'stopped') return;
    const expected = deployments.length * FLEET;
    expect([last.stats.claimed, last.stats.succeeded, new Set(last.succeededJobIds).size]).toEqual([expected, expected, expected]);
  });

  it('moves the lead off a replica that lost its database, within the lease', async () => {
    let before: Replica | undefined;
    for (let i = 0; i < 50 && !before; i++) before = (await leader()) ?? (await sleep(200), undefined);
    expect(before).toBeDefined();
    const cutAt = Date.now();
    before!.proxy.cut();
    note(`PostgreSQL cut from ${before!.name} (leader) alone`);
    // Another replica leads (by its metrics and by the store's row), and the cut one no longer counts itself leader.
    let after: Replica | undefined;
    let takenAt: number | undefined;
    let stoppedAt: number | undefined;
    while (Date.now() - cutAt < 15_000 && !(after && stoppedAt)) {
      for (const r of replicas) if (r !== before && !after && (await gauge(r, 'bitenvoy_leader')) === 1) [after, takenAt] = [r, Date.now()];
      if (stoppedAt === undefined && (await gauge(before!, 'bitenvoy_leader')) === 0) stoppedAt = Date.now();
      if (!(after && stoppedAt)) await sleep(100);
    }
    const row = await leaseRow();
    // Its /metrics still answers, and says why.
    const storeUp = await gauge(before!, 'bitenvoy_store_up');
    before!.proxy.restore();
    expect(after, `no other replica took the lead\n${events.join('\n')}`).toBeDefined();
    expect(row?.holder).toMatch(new RegExp(`:${after!.proc!.child.pid}:`));
    // The cut replica stops within its lease (it was renewed at most a lease ago) plus a poll's slack.
    expect(storeUp).toBe(0);
    expect(stoppedAt, `${before!.name} still says it leads`).toBeDefined();
    expect(stoppedAt! - cutAt).toBeLessThan(LEASE_SECONDS * 1000 + 1500);
    expect(before!.proc!.output()).toMatch(/no longer leading: the lease ran out before this replica could renew it/);
    // The other takes over once the row runs out, at its next renewal (a third of the lease), with room for load.
    expect(takenAt! - cutAt).toBeLessThan(LEASE_SECONDS * 1000 * 3 + 3000);
  }, 60_000);
});
