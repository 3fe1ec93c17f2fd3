/**
 * Issue 14's figures: three hub replicas (real processes) on one PostgreSQL database, with simulated agents speaking
 * the real agent API over HTTP. `BENCH_ONLY=replicas npm run bench`; each figure is printed as it is measured.
 *
 *   replica_wake_ms          a simulated agent holds its long poll (`GET /jobs/next?wait=50`) on replica b (b's
 *                            `bitenvoy_long_polls_held` says 1); a deployment is asked of replica a's admin API: from
 *                            the job's creation (its `createdAt`, stamped by a just before the write that stores it and
 *                            wakes its agent; one machine, one clock, millisecond resolution) to b's answer to the poll
 *                            with the job arriving, p50 and p99 over BENCH_REPLICAS_WAKE_SAMPLES (default 200).
 *                            Also from the request sent (`from_request_*`: planning the deployment included) and from
 *                            a's 201 answer (`from_answer_*`, 0 when the poll answered first). Each sample's job is
 *                            claimed and finished before the next. Targets p50 ≤ 20, p99 ≤ 100
 *   leader_failover_s        the leader replica (the one whose /metrics says `bitenvoy_leader 1`) SIGKILLed: from its
 *                            exit to the first /metrics answer of another replica saying `bitenvoy_leader 1` (polled
 *                            every 100 ms on each survivor) — the moment a survivor's lease check took the lease, from
 *                            which it runs the periodic work. Default BITENVOY_LEADER_LEASE_SECONDS (10); the killed
 *                            replica is started again between runs. Max and runs over BENCH_REPLICAS_FAILOVERS
 *                            (default 3). Target ≤ 15
 *   fleet_rollout_s.postgres.{N}  all-at-once to N simulated agents (bench/fleet-simulator.ts, its own process), agent
 *                            i enrolled through and polling replica i mod 3; asked of replica a: from the API call to
 *                            the deployment's `finishedAt`, its state, and false failures (every simulated agent is
 *                            alive and succeeds: each failed job is one). Also each replica's peak RSS during it.
 *                            BENCH_REPLICAS_SIZES (default 10000). Targets ≤ 45 s, 0 false failures. Also when the
 *                            jobs were made, claimed and finished (`phases_s`, read from the database)
 *   replica_idle_rss_mb.{M}  M simulated agents holding long polls spread over 3 replicas (a fresh database): each
 *                            replica's RSS, median and max over BENCH_REPLICAS_IDLE_SECONDS (default 60) sampled every
 *                            second. BENCH_REPLICAS_IDLE (default 30000). Target ≤ 300 MB per replica
 *   webhook_ingest_per_s     signed `push` deliveries (bench/webhook-ingest.ts) posted to all 3 replicas at once while
 *                            simulated agents poll them, at several concurrencies in turn: the most deliveries a
 *                            replica answered 2xx per second in a step whose p99 round trip stayed ≤ 100 ms, with
 *                            every step's rate, p50, p99 and the GitHub requests they caused. The senders run in
 *                            this process: on a small machine they compete with the replicas for CPU
 *
 * BENCH_REPLICAS_FIGURES (default wake,failover,fleet,idle,webhooks) picks figures; BENCH_REPLICAS_WEBHOOK_SECONDS
 * (default 20, per step), BENCH_REPLICAS_WEBHOOK_AGENTS (default 1000) and BENCH_REPLICAS_WEBHOOK_CONCURRENCY
 * (deliveries in flight per replica, one step each, default 2,4,8,16) shape the ingest; BENCH_FLEET_CONCURRENCY (default 50) bounds the simulator's
 * enrollments and job reports in flight; BENCH_DATABASE_URL names the PostgreSQL server (a database is made for each
 * replica set and dropped after). Sizes here are the issue's; verify the code with small ones (e.g.
 * BENCH_REPLICAS_SIZES=300 BENCH_REPLICAS_IDLE=300) on a busy machine.
 */
import pg from 'pg';
import { ADMIN_API_PREFIX, AGENT_API_PREFIX, FINAL_DEPLOYMENT_STATES } from '../lib/protocol.js';
import type { HubProcess } from '../testbed/processes.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY } from '../testbed/sample-app.js';
import { median, round, rssMb, sleep, type Simulator } from './fleet.js';
import { startFleet, startReplicaSet, type ReplicaSet } from './replica-set.js';
import { percentile } from './percentile.js';
import { measureWebhookIngest } from './webhook-ingest.js';

export const REPLICA_TARGETS = { wakeP50Ms: 20, wakeP99Ms: 100, failoverSeconds: 15, rolloutSeconds: 45, idleRssMb: 300, webhookP99Ms: 100 } as const;

export interface ReplicaOptions {
  figures: string[];
  wakeSamples: number;
  failovers: number;
  sizes: number[];
  idleAgents: number;
  idleSeconds: number;
  concurrency: number;
  webhookSeconds: number;
  webhookAgents: number;
  webhookConcurrencies: number[];
}

type Log = (line: string) => void;

/** A JSON request to a replica; throws with the answer on a status that is not `expect`. */
async function call<T>(hub: HubProcess, method: string, path: string, token: string, body?: unknown, expect = [200, 201]): Promise<{ status: number; json: T }> {
  const res = await fetch(`${hub.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!expect.includes(res.status)) throw new Error(`${method} ${path} on ${hub.name} → HTTP ${res.status}: ${text.slice(0, 500)}`);
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

const deploy = (hub: HubProcess) => call<{ deployment: { id: string } }>(hub, 'POST', `${ADMIN_API_PREFIX}/deployments`, hub.adminToken, { repository: SAMPLE_REPOSITORY, ref: 'main', environment: SAMPLE_ENVIRONMENT });

interface Summary {
  id: string;
  state: string;
  finishedAt?: string;
}

/** Asks `hub` every `everyMs` until the deployment is final (from the list: small whatever the fleet). */
async function waitFinal(hub: HubProcess, id: string, everyMs: number, timeoutMs: number): Promise<Summary> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listed = await call<{ deployments: Summary[] }>(hub, 'GET', `${ADMIN_API_PREFIX}/deployments?limit=5`, hub.adminToken).catch(() => undefined);
    const dep = listed?.json.deployments.find((d) => d.id === id);
    if (dep && FINAL_DEPLOYMENT_STATES.includes(dep.state as never)) return dep;
    if (Date.now() > deadline) throw new Error(`deployment ${id} not final after ${timeoutMs / 1000} s: ${JSON.stringify(dep)}`);
    await sleep(everyMs);
  }
}

async function measureWake(set: ReplicaSet, samples: number, log: Log) {
  const [a, b] = set.replicas as [HubProcess, HubProcess];
  const { json: minted } = await call<{ token: string }>(a, 'POST', `${ADMIN_API_PREFIX}/enrollment-tokens`, a.adminToken);
  const { json: agent } = await call<{ agentId: string; credential: string }>(a, 'POST', `${AGENT_API_PREFIX}/enroll`, '', { token: minted.token, name: 'wake-1', labels: { role: 'web' }, version: 'bench' });
  const fromCreated: number[] = [];
  const fromAnswer: number[] = [];
  const fromRequest: number[] = [];
  for (let i = 0; i < samples; i++) {
    let answeredAt = 0;
    let answeredAtWall = 0;
    const poll = call<{ job: { id: string; createdAt: string } }>(b, 'GET', `${AGENT_API_PREFIX}/jobs/next?wait=50`, agent.credential).then((r) => ((answeredAt = performance.now()), (answeredAtWall = Date.now()), r));
    // Asked once b holds the poll (it answers at once when a job is already there, which is not what is measured).
    for (const deadline = Date.now() + 10_000; ((await gaugeOf(b, 'bitenvoy_long_polls_held')) ?? 0) < 1; await sleep(20)) {
      if (Date.now() > deadline) throw new Error('replica b did not report the simulated agent\'s poll as held within 10 s');
    }
    const sent = performance.now();
    const { json } = await deploy(a);
    const returned = performance.now();
    const { status, json: next } = await poll;
    if (status !== 200 || !next.job) throw new Error(`the poll held on b answered HTTP ${status} without the job of ${json.deployment.id}`);
    fromCreated.push(answeredAtWall - Date.parse(next.job.createdAt));
    fromAnswer.push(Math.max(0, answeredAt - returned));
    fromRequest.push(answeredAt - sent);
    const claimId = `cl_wake_${i}_${next.job.id.slice(-6)}`;
    await call(b, 'POST', `${AGENT_API_PREFIX}/jobs/${next.job.id}/claim`, agent.credential, { claimId });
    const at = new Date().toISOString();
    const events = [{ seq: 1, at, type: 'state', state: 'running' }, { seq: 2, at, type: 'state', state: 'succeeded' }];
    await call(b, 'POST', `${AGENT_API_PREFIX}/jobs/${next.job.id}/events`, agent.credential, { claimId, events });
    const done = await waitFinal(a, json.deployment.id, 20, 60_000);
    if (done.state !== 'success') throw new Error(`wake sample ${json.deployment.id} ended ${done.state}`);
  }
  const figure = {
    p50: percentile(fromCreated, 50),
    p99: percentile(fromCreated, 99),
    from_request_p50: percentile(fromRequest, 50),
    from_request_p99: percentile(fromRequest, 99),
    from_answer_p50: percentile(fromAnswer, 50),
    from_answer_p99: percentile(fromAnswer, 99),
    samples,
    target_p50: REPLICA_TARGETS.wakeP50Ms,
    target_p99: REPLICA_TARGETS.wakeP99Ms,
  };
  log(`replica_wake_ms: p50 ${figure.p50} ms, p99 ${figure.p99} ms from the job's creation (from the request sent: p50 ${figure.from_request_p50}, p99 ${figure.from_request_p99}; from a's answer: p50 ${figure.from_answer_p50}, p99 ${figure.from_answer_p99}) over ${samples} samples`);
  return figure;
}

/** A gauge without labels in the replica's /metrics; undefined when it does not answer. */
async function gaugeOf(hub: HubProcess, name: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${hub.adminToken}` }, signal: AbortSignal.timeout(5000) });
    const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  } catch {
    return undefined;
  }
}

const leaderOf = (hub: HubProcess) => gaugeOf(hub, 'bitenvoy_leader');

/** The index of the replica that leads, waiting up to `ms` for one to say so. */
async function leaderIndex(set: ReplicaSet, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const says = await Promise.all(set.replicas.map(leaderOf));
    const leaders = says.flatMap((v, i) => (v === 1 ? [i] : []));
    if (leaders.length === 1) return leaders[0]!;
    if (Date.now() > deadline) throw new Error(`no single leader after ${ms / 1000} s: bitenvoy_leader ${says.join(', ')}`);
    await sleep(200);
  }
}

async function measureFailover(set: ReplicaSet, runs: number, log: Log) {
  const seconds: number[] = [];
  for (let run = 0; run < runs; run++) {
    const leader = await leaderIndex(set, 60_000);
    const survivors = set.replicas.filter((_, i) => i !== leader);
    await set.replicas[leader]!.kill();
    const killed = performance.now();
    let taken: number | undefined;
    while (taken === undefined && performance.now() - killed < 120_000) {
      const says = await Promise.all(survivors.map(leaderOf));
      const at = performance.now();
      if (says.includes(1)) taken = at - killed;
      else await sleep(Math.max(0, 100 - (performance.now() - at)));
    }
    if (taken === undefined) throw new Error(`no replica took the lead within 120 s of killing ${set.names[leader]}`);
    seconds.push(round(taken / 1000, 2));
    log(`leader_failover_s run ${run + 1}: ${set.names[leader]} killed, another replica leads after ${seconds.at(-1)} s`);
    await set.restart(leader);
  }
  return { value: Math.max(...seconds), p50: median(seconds), runs: seconds, lease_seconds: Number(process.env.BITENVOY_LEADER_LEASE_SECONDS ?? 10), target: REPLICA_TARGETS.failoverSeconds };
}

async function measureRollout(count: number, options: ReplicaOptions, log: Log) {
  const set = await startReplicaSet({ replicas: 3 });
  let sim: Simulator | undefined;
  try {
    sim = await startFleet(set, count, options.concurrency, 3600, log);
    await sleep(5000);
    const peaks = set.replicas.map(() => 0);
    const timer = setInterval(() => set.replicas.forEach((r, i) => void rssMb(r.child.pid!).then((mb) => (peaks[i] = Math.max(peaks[i]!, mb)), () => undefined)), 1000);
    const calledAt = Date.now();
    let done: Summary;
    try {
      const { json } = await deploy(set.replicas[0]!);
      done = await waitFinal(set.replicas[0]!, json.deployment.id, 1000, 900_000);
    } finally {
      clearInterval(timer);
    }
    const { json: view } = await call<{ counts: Partial<Record<string, number>> }>(set.replicas[0]!, 'GET', `${ADMIN_API_PREFIX}/deployments/${done.id}`, set.replicas[0]!.adminToken);
    const stopped = await sim.stop();
    const phases = await rolloutPhases(set.databaseUrl, done.id, calledAt);
    const figure = {
      value: done.finishedAt ? round((Date.parse(done.finishedAt) - calledAt) / 1000, 2) : undefined,
      state: done.state,
      jobs: Object.values(view.counts).reduce((n: number, c) => n + (c ?? 0), 0),
      succeeded: view.counts.succeeded ?? 0,
      false_failures: view.counts.failed ?? 0,
      replicas: set.replicas.length,
      peak_rss_mb: Object.fromEntries(set.names.map((n, i) => [n, round(peaks[i]!)])),
      simulator_errors: stopped?.stats.errors ?? {},
      phases_s: phases,
    };
    log(`fleet_rollout_s.postgres.${count}: ${figure.state} in ${figure.value} s, ${figure.succeeded} succeeded, ${figure.false_failures} false failures; peak RSS ${JSON.stringify(figure.peak_rss_mb)} MB`);
    log(`  seconds after the API call: jobs made ${JSON.stringify(phases.jobs_made)}, claimed ${JSON.stringify(phases.claimed)}, finished ${JSON.stringify(phases.finished)}`);
    return figure;
  } finally {
    await sim?.stop();
    await set.close();
  }
}

/**
 * Where a rollout's time went, read from the jobs the replicas wrote: seconds after the API call at which the jobs
 * were made, claimed and finished (p0, p50, p90, p100 each). Jobs made at once and claims spread evenly say the
 * figure is the claim rate: the simulator's claims and reports in flight over their round trip.
 */
async function rolloutPhases(databaseUrl: string, deploymentId: string, calledAt: number) {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ created_at: string | null; finished_at: string | null; claimed_at: string | null }>(
      "SELECT created_at, finished_at, doc::json->>'claimedAt' AS claimed_at FROM jobs WHERE deployment_id = $1",
      [deploymentId],
    );
    const spread = (values: Array<string | null>) => {
      const seconds = values.filter((v): v is string => v !== null).map((v) => (Date.parse(v) - calledAt) / 1000);
      if (!seconds.length) return {};
      return { p0: round(Math.min(...seconds), 2), p50: round(percentile(seconds, 50), 2), p90: round(percentile(seconds, 90), 2), p100: round(Math.max(...seconds), 2) };
    };
    return { jobs_made: spread(rows.map((r) => r.created_at)), claimed: spread(rows.map((r) => r.claimed_at)), finished: spread(rows.map((r) => r.finished_at)) };
  } finally {
    await client.end();
  }
}

async function measureIdle(count: number, options: ReplicaOptions, log: Log) {
  const set = await startReplicaSet({ replicas: 3 });
  let sim: Simulator | undefined;
  try {
    sim = await startFleet(set, count, options.concurrency, options.idleSeconds + 1800, log);
    // What the enrollment left (garbage, connections) settles before it counts as idle.
    await sleep(10_000);
    const samples: number[][] = set.replicas.map(() => []);
    const started = performance.now();
    while (performance.now() - started < options.idleSeconds * 1000) {
      await sleep(1000);
      await Promise.all(set.replicas.map(async (r, i) => samples[i]!.push(await rssMb(r.child.pid!))));
    }
    const perReplica = Object.fromEntries(set.names.map((n, i) => [n, { median: round(median(samples[i]!)!), max: round(Math.max(...samples[i]!)) }]));
    const figure = { ...perReplica, max: round(Math.max(...samples.flat())), agents: count, replicas: set.replicas.length, idle_seconds: options.idleSeconds };
    log(`replica_idle_rss_mb.${count}: ${set.names.map((n) => `${n} ${perReplica[n]!.median} MB (max ${perReplica[n]!.max})`).join(', ')}`);
    return figure;
  } finally {
    await sim?.stop();
    await set.close();
  }
}

/** Every figure `options.figures` names, as bench/results.json keys; a figure that failed is reported, not fatal. */
export async function measureReplicas(options: ReplicaOptions, log: Log = (line) => process.stderr.write(`${line}\n`)): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const attempt = async (name: string, work: () => Promise<void>) => {
    if (!options.figures.includes(name)) return;
    try {
      await work();
    } catch (err) {
      errors[name] = err instanceof Error ? err.message : String(err);
      log(`${name}: not measured: ${errors[name]}`);
    }
  };
  if (options.figures.includes('wake') || options.figures.includes('failover')) {
    const set = await startReplicaSet({ replicas: 3 });
    try {
      await attempt('wake', async () => void (results.replica_wake_ms = await measureWake(set, options.wakeSamples, log)));
      await attempt('failover', async () => void (results.leader_failover_s = await measureFailover(set, options.failovers, log)));
    } finally {
      await set.close();
    }
  }
  const rollouts: Record<string, unknown> = {};
  for (const size of options.sizes) await attempt('fleet', async () => void (rollouts[String(size)] = await measureRollout(size, options, log)));
  if (Object.keys(rollouts).length) results.fleet_rollout_s = { postgres: { ...rollouts, target: REPLICA_TARGETS.rolloutSeconds } };
  await attempt('idle', async () => void (results.replica_idle_rss_mb = { [String(options.idleAgents)]: await measureIdle(options.idleAgents, options, log), target: REPLICA_TARGETS.idleRssMb }));
  await attempt('webhooks', async () => {
    const figure = await measureWebhookIngest({ seconds: options.webhookSeconds, agents: options.webhookAgents, concurrencies: options.webhookConcurrencies, p99TargetMs: REPLICA_TARGETS.webhookP99Ms, fleetConcurrency: options.concurrency }, log);
    results.webhook_ingest_per_s = { ...figure, target_p99_ms: REPLICA_TARGETS.webhookP99Ms };
  });
  return { ...results, ...(Object.keys(errors).length ? { replica_errors: errors } : {}) };
}
