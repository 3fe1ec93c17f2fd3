/**
 * Issue 13's figures: one hub process (real SQLite, loopback) with a fleet of simulated agents in another process
 * (bench/fleet-simulator.ts), so what is measured is the hub's own memory, CPU and responsiveness.
 *
 *   fleet_idle_rss_mb.{N}    hub RSS (VmRSS) with N agents each holding a long poll: median and max over the idle
 *                            period, sampled every second; also the hub's RSS before any agent came, and the
 *                            difference per held poll in KB
 *   fleet_idle_cpu_pct.{N}   hub CPU (user + system, % of one core) over the same period, and the part of it that was
 *                            GC pauses on the main thread by kind (the hub's nodejs_gc_duration_seconds); nothing
 *                            happens but the agents' polls ending after the poll wait and being sent again.
 *                            `http_floor_pct`: the same fleet's polls held by a bare node:http server that does nothing
 *                            else (bench/http-floor.ts), measured the same way just before — what HTTP itself costs —
 *                            and `over_http_floor`, the hub's figure ÷ that floor
 *   fleet_rollout_s.{N}      all-at-once to the N agents, no-op step: from the deployments API call to the
 *                            deployment's `finishedAt` as the hub records it; its final state, and `false_failures`:
 *                            every failed job is one, as every simulated agent is alive and succeeds whatever it is
 *                            given (`failed_after_success` counts those whose agent's `succeeded` was even accepted)
 *   event_loop_max_ms.{N}    the slowest `GET /livez` (polled every 50 ms) during the rollout: the hub's
 *                            responsiveness as seen from outside
 *   job_end_ms.{N}           median round trip of the events POST that ends a job (`running`, `succeeded`)
 *   job_end_cost_ratio       job_end_ms at the largest size ÷ at the smallest
 *
 * BENCH_FLEET_SIZES (default 1000,10000), BENCH_FLEET_IDLE_SECONDS (default 60: one whole poll period, so that every
 * held poll ends and is sent again once within it — the polls of a fleet enrolled at once end together, and a shorter
 * window may see none end), BENCH_FLEET_ROLLOUT_SECONDS (the most a rollout may take before the figure says how far
 * it got; default 600), BENCH_FLEET_CONCURRENCY (claims and reports the simulator has in flight at once, and
 * enrollments; default 50), BENCH_FLEET_HUB_NODE_OPTIONS (NODE_OPTIONS for the hub, to compare runtime settings).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ADMIN_API_PREFIX, FINAL_DEPLOYMENT_STATES } from '../lib/protocol.js';
import { packageRoot } from '../lib/package-root.js';
import { startWorld, type World } from '../testbed/world.js';
import type { SimulatorMessage, SimulatorStart, SimulatorStats } from './fleet-simulator.js';

export const FLEET_TARGETS = { idleRssMb: 300, idleCpuPct: 2, rolloutSeconds: 30, eventLoopMaxMs: 200, jobEndCostRatio: 1.5 } as const;

export interface FleetSizeFigures {
  agents: number;
  enrollSeconds: number;
  rssBeforeMb: number;
  idleRss: { median: number; max: number; perAgentKb: number; samples: number };
  idleCpuPct: number;
  /** The part of idleCpuPct spent in the kernel (stime): sockets, SQLite's file I/O. */
  idleSystemPct: number;
  /** The same fleet's polls held by a bare node:http server (bench/http-floor.ts): what HTTP itself costs. */
  httpFloorCpuPct: number;
  /** The hub's own GC pause figures over the idle period (prom-client's nodejs_gc_duration_seconds): % of a core, by kind. */
  idleGc: IdleGc;
  /** Polls the hub answered 204 during the idle period (each is sent again at once). */
  idlePollsAnswered: number;
  rollout: {
    state: string;
    seconds: number | undefined;
    /** Seconds until the benchmark stopped waiting, when the rollout did not end in time. */
    gaveUpAfterSeconds?: number;
    /** Undefined when the hub did not show the deployment's jobs even two minutes after the agents stopped. */
    jobs: number | undefined;
    succeeded: number | undefined;
    failed: number | undefined;
    falseFailures: number | undefined;
    /** Failed jobs whose agent's `succeeded` report the hub had accepted. */
    failedAfterSuccess: number | undefined;
    failureReasons: Record<string, number>;
    peakRssMb: number;
    eventLoopMaxMs: number;
    livezChecks: number;
    /** The longest the admin API took to answer the benchmark's question about the deployment. */
    adminSilentMs: number;
    jobEndMedianMs: number | undefined;
    simulator: SimulatorStats;
  };
}

export interface FleetOptions {
  idleSeconds: number;
  rolloutSeconds: number;
  concurrency: number;
  /** NODE_OPTIONS for the hub process, to compare runtime settings (e.g. `--max-semi-space-size=16`). */
  hubNodeOptions?: string;
}

const CLOCK_TICKS_PER_SECOND = 100;

export function median(values: number[]): number | undefined {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

/** utime and stime of the process, in seconds. */
async function cpuSeconds(pid: number): Promise<{ user: number; system: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at the state, field 3: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLOCK_TICKS_PER_SECOND, system: Number(fields[12]) / CLOCK_TICKS_PER_SECOND };
}

/** The simulator process and a way to ask it things. */
export class Simulator {
  readonly child: ChildProcess;
  #waiters: Array<(m: SimulatorMessage) => boolean> = [];
  #exited: Promise<void>;

  constructor() {
    const path = join(packageRoot(), 'dist', 'bench', 'fleet-simulator.js');
    this.child = fork(path, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    this.#exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.child.on('message', (m: SimulatorMessage) => {
      if (m.type === 'failed') process.stderr.write(`fleet simulator failed: ${m.message}\n`);
      this.#waiters = this.#waiters.filter((w) => !w(m));
    });
  }

  /** Resolves with the first message of `type`, or rejects after `ms` or when the simulator exits first. */
  next<T extends SimulatorMessage['type']>(type: T | 'failed', ms: number): Promise<Extract<SimulatorMessage, { type: T | 'failed' }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the fleet simulator sent no '${type}' within ${ms / 1000} s`)), ms);
      const gone = () => reject(new Error(`the fleet simulator exited before sending '${type}'`));
      this.child.once('exit', gone);
      this.#waiters.push((m) => {
        if (m.type !== type && m.type !== 'failed') return false;
        clearTimeout(timer);
        this.child.off('exit', gone);
        if (m.type === 'failed' && type !== 'failed') reject(new Error(`fleet simulator: ${m.message}`));
        else resolve(m as Extract<SimulatorMessage, { type: T | 'failed' }>);
        return true;
      });
    });
  }

  send(message: SimulatorStart | { type: 'stats' } | { type: 'stop' }): void {
    if (this.child.connected) this.child.send(message);
  }

  async stats(): Promise<SimulatorStats> {
    const answer = this.next('stats', 30_000);
    this.send({ type: 'stats' });
    return (await answer as { stats: SimulatorStats }).stats;
  }

  /** Stops every simulated agent; resolves with what they did (undefined when the simulator had already gone). */
  async stop(): Promise<Extract<SimulatorMessage, { type: 'stopped' }> | undefined> {
    if (this.child.exitCode !== null || this.child.signalCode !== null || !this.child.connected) return undefined;
    const stopped = this.next('stopped', 20_000).catch(() => undefined);
    this.send({ type: 'stop' });
    const answer = await stopped;
    if (!(await Promise.race([this.#exited.then(() => true), sleep(5000).then(() => false)]))) this.child.kill('SIGKILL');
    await this.#exited;
    return answer?.type === 'stopped' ? answer : undefined;
  }
}

interface IdleGc {
  pct: number;
  byKind: Record<string, { count: number; ms: number }>;
}

/** GC pause count and seconds by kind so far, from the hub's /metrics (admin token). */
async function gcSeconds(world: World): Promise<Map<string, { count: number; seconds: number }>> {
  const res = await fetch(`${world.hub.url}/metrics`, { headers: { authorization: `Bearer ${world.hub.adminToken}` }, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  const kinds = new Map<string, { count: number; seconds: number }>();
  for (const [, part, kind, value] of text.matchAll(/^nodejs_gc_duration_seconds_(sum|count)\{kind="([^"]+)"\} (\S+)$/gm)) {
    const entry = kinds.get(kind!) ?? { count: 0, seconds: 0 };
    if (part === 'sum') entry.seconds = Number(value);
    else entry.count = Number(value);
    kinds.set(kind!, entry);
  }
  return kinds;
}

function gcDuring(before: Map<string, { count: number; seconds: number }>, after: Map<string, { count: number; seconds: number }>, seconds: number): IdleGc {
  const byKind: IdleGc['byKind'] = {};
  let total = 0;
  for (const [kind, end] of after) {
    const start = before.get(kind) ?? { count: 0, seconds: 0 };
    total += end.seconds - start.seconds;
    if (end.count > start.count) byKind[kind] = { count: end.count - start.count, ms: round((end.seconds - start.seconds) * 1000) };
  }
  return { pct: round((total / seconds) * 100, 2), byKind };
}

async function adminCall<T>(world: World, method: string, path: string, body?: unknown, timeoutMs = 120_000): Promise<T> {
  const res = await fetch(`${world.hub.url}${ADMIN_API_PREFIX}${path}`, {
    method,
    headers: { authorization: `Bearer ${world.hub.adminToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/** {@link adminCall}, asked again (a hub that is busy for minutes answers nothing) until `giveUpAt`. */
async function adminCallPatiently<T>(world: World, path: string, giveUpAt: number): Promise<T | undefined> {
  while (Date.now() < giveUpAt) {
    try {
      return await adminCall<T>(world, 'GET', path, undefined, Math.max(1000, Math.min(60_000, giveUpAt - Date.now())));
    } catch {
      await sleep(1000);
    }
  }
  return undefined;
}

/** `GET /livez` every 50 ms (or right after a slower answer) until stopped; the slowest answer is the figure. */
function watchLivez(url: string, timeoutMs: number): { stop(): Promise<{ maxMs: number; checks: number }> } {
  let running = true;
  let maxMs = 0;
  let checks = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        await (await fetch(`${url}/livez`, { signal: AbortSignal.timeout(timeoutMs) })).text();
      } catch {
        // A /livez that does not answer in time counts as the whole time.
      }
      const ms = performance.now() - started;
      maxMs = Math.max(maxMs, ms);
      checks++;
      await sleep(Math.max(0, 50 - ms));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { maxMs: Math.round(maxMs), checks };
    },
  };
}

export async function waitForHolding(sim: Simulator, count: number, ms: number): Promise<SimulatorStats> {
  const deadline = Date.now() + ms;
  for (;;) {
    const stats = await sim.stats();
    if (stats.holding >= count) return stats;
    if (Date.now() > deadline) throw new Error(`only ${stats.holding} of ${count} simulated agents hold a poll after ${ms / 1000} s: ${JSON.stringify(stats)}`);
    await sleep(500);
  }
}

interface DeploymentSummary {
  id: string;
  state: string;
  createdAt: string;
  finishedAt?: string;
}

/**
 * CPU (% of a core) of the bare HTTP server of bench/http-floor.ts holding the polls of `count` simulated agents for
 * the idle period, measured exactly as the hub's idle CPU is.
 */
async function measureHttpFloor(count: number, options: FleetOptions): Promise<number> {
  const floor = fork(join(packageRoot(), 'dist', 'bench', 'http-floor.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let sim: Simulator | undefined;
  try {
    const { port } = await new Promise<{ port: number }>((resolve, reject) => {
      floor.once('message', (m) => resolve(m as { port: number }));
      floor.once('exit', () => reject(new Error('the HTTP floor server exited before listening')));
    });
    sim = new Simulator();
    const enrolled = sim.next('enrolled', 600_000);
    sim.send({ type: 'start', hubUrl: `http://127.0.0.1:${port}`, adminToken: 'floor', count, concurrency: options.concurrency, deadlineSeconds: options.idleSeconds + 900 });
    await enrolled;
    await waitForHolding(sim, count, 300_000);
    await sleep(10_000);
    const start = await cpuSeconds(floor.pid!);
    const startedAt = performance.now();
    await sleep(options.idleSeconds * 1000);
    const end = await cpuSeconds(floor.pid!);
    return round(((end.user + end.system - start.user - start.system) / ((performance.now() - startedAt) / 1000)) * 100, 2);
  } finally {
    await sim?.stop();
    floor.kill();
  }
}

async function measureSize(count: number, options: FleetOptions, log: (line: string) => void): Promise<FleetSizeFigures> {
  const httpFloorCpuPct = await measureHttpFloor(count, options);
  log(`${count} agents idle on a bare node:http server (bench/http-floor.ts): CPU ${httpFloorCpuPct} % of a core`);
  const world = await startWorld({
    agents: 0,
    hubEnv: { LOG_LEVEL: 'warn', BITENVOY_CONFIG_REFRESH_SECONDS: '3600', ...(options.hubNodeOptions ? { NODE_OPTIONS: options.hubNodeOptions } : {}) },
  });
  const pid = world.hub.child.pid!;
  let sim: Simulator | undefined;
  try {
    await sleep(3000);
    const rssBeforeMb = await rssMb(pid);
    sim = new Simulator();
    const enrolled = sim.next('enrolled', (options.rolloutSeconds + 600) * 1000);
    sim.send({ type: 'start', hubUrl: world.hub.url, adminToken: world.hub.adminToken, count, concurrency: options.concurrency, deadlineSeconds: options.idleSeconds + options.rolloutSeconds + 900 });
    const { ms: enrollMs } = (await enrolled) as { ms: number };
    log(`${count} agents enrolled in ${round(enrollMs / 1000)} s; waiting for every poll to be held`);
    await waitForHolding(sim, count, 300_000);
    // Let the hub finish what the enrollment left (garbage, SQLite pages) before it counts as idle.
    await sleep(10_000);

    const rss: number[] = [];
    const idleStats = await sim.stats();
    const gcStart = await gcSeconds(world);
    const cpuStart = await cpuSeconds(pid);
    const idleStart = performance.now();
    while (performance.now() - idleStart < options.idleSeconds * 1000) {
      await sleep(1000);
      rss.push(await rssMb(pid));
    }
    const cpuEnd = await cpuSeconds(pid);
    const idleWallSeconds = (performance.now() - idleStart) / 1000;
    const idleCpuPct = ((cpuEnd.user + cpuEnd.system - cpuStart.user - cpuStart.system) / idleWallSeconds) * 100;
    const idleSystemPct = round(((cpuEnd.system - cpuStart.system) / idleWallSeconds) * 100, 2);
    const idleEnd = await sim.stats();
    const idleGc = gcDuring(gcStart, await gcSeconds(world), (performance.now() - idleStart) / 1000);
    const idleRss = { median: round(median(rss)!), max: round(Math.max(...rss)), perAgentKb: round(((median(rss)! - rssBeforeMb) * 1024) / count, 2), samples: rss.length };
    log(`${count} agents idle: hub RSS median ${idleRss.median} MB (max ${idleRss.max}, ${round(rssBeforeMb)} before the fleet), CPU ${round(idleCpuPct, 2)} % of a core (system ${idleSystemPct} %), of which GC pauses ${idleGc.pct} % (${Object.entries(idleGc.byKind).map(([k, v]) => `${k} ${v.count}× ${v.ms} ms`).join(', ')})`);

    // The rollout.
    const livez = watchLivez(world.hub.url, options.rolloutSeconds * 1000);
    let peakRssMb = 0;
    const rssTimer = setInterval(() => void rssMb(pid).then((mb) => (peakRssMb = Math.max(peakRssMb, mb)), () => undefined), 1000);
    const calledAt = Date.now();
    const giveUpAt = calledAt + options.rolloutSeconds * 1000;
    let deployment: DeploymentSummary;
    let gaveUpAfterSeconds: number | undefined;
    // The longest the admin API left a question unanswered during the rollout.
    let adminSilentMs = 0;
    try {
      ({ deployment } = await adminCall<{ deployment: DeploymentSummary }>(world, 'POST', '/deployments', { repository: 'demo/shop', ref: 'main', environment: 'staging' }));
      let lastReport = Date.now();
      // The list, not the deployment's view: the view carries every job, and reading it each second would be load.
      while (!FINAL_DEPLOYMENT_STATES.includes(deployment.state as never)) {
        if (Date.now() > giveUpAt) {
          gaveUpAfterSeconds = round((Date.now() - calledAt) / 1000);
          break;
        }
        await sleep(1000);
        const asked = Date.now();
        const listed = await adminCallPatiently<{ deployments: DeploymentSummary[] }>(world, '/deployments?limit=5', giveUpAt);
        adminSilentMs = Math.max(adminSilentMs, Date.now() - asked);
        deployment = listed?.deployments.find((d) => d.id === deployment.id) ?? deployment;
        if (Date.now() - lastReport > 15_000) {
          lastReport = Date.now();
          const s = await sim.stats();
          log(`  ${round((Date.now() - calledAt) / 1000)} s: ${deployment.state}; simulator took ${s.jobsTaken}, claimed ${s.claimed}, succeeded ${s.succeeded} of ${count}`);
        }
      }
    } finally {
      clearInterval(rssTimer);
    }
    const loop = await livez.stop();
    const stopped = await sim.stop();
    // With the agents gone the hub may catch up; it gets two more minutes to show the jobs.
    const patience = Date.now() + 120_000;
    const view = await adminCallPatiently<{ counts: Partial<Record<string, number>> }>(world, `/deployments/${deployment.id}`, patience);
    const reportedSucceeded = new Set(stopped?.succeededJobIds ?? []);
    // The failed servers, page by page (the summary lists only the first 20).
    let failed: Array<{ jobId: string; state: string; message?: string }> | undefined = view ? [] : undefined;
    for (let after: string | undefined, first = true; failed && (first || after); first = false) {
      const page = await adminCallPatiently<{ servers: Array<{ jobId: string; state: string; message?: string }>; next?: string }>(world, `/deployments/${deployment.id}/servers?state=failed&limit=200${after ? `&after=${after}` : ''}`, patience);
      if (!page) failed = undefined;
      else failed.push(...page.servers);
      after = page?.next;
    }
    // Why the hub failed jobs, most frequent first, with names and numbers taken out so that alike reasons count together.
    const reasons = new Map<string, number>();
    for (const j of failed ?? []) {
      const reason = (j.message ?? '(no message)').replace(/\b(fleet|job|ag)[-_][\w-]+/g, '$1-…').replace(/\d[\d:.TZ-]*/g, 'N');
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    const failureReasons = Object.fromEntries([...reasons].sort((a, b) => b[1] - a[1]).slice(0, 5));
    const seconds = deployment.finishedAt ? round((Date.parse(deployment.finishedAt) - calledAt) / 1000, 2) : undefined;
    const rollout = {
      state: gaveUpAfterSeconds === undefined ? deployment.state : `${deployment.state} (gave up waiting)`,
      seconds,
      ...(gaveUpAfterSeconds === undefined ? {} : { gaveUpAfterSeconds }),
      jobs: view ? Object.values(view.counts).reduce((n: number, c) => n + (c ?? 0), 0) : undefined,
      succeeded: view ? (view.counts.succeeded ?? 0) : undefined,
      failed: failed?.length,
      // Every simulated agent is alive and succeeds: any job failed is failed falsely.
      falseFailures: failed?.length,
      failedAfterSuccess: failed?.filter((j) => reportedSucceeded.has(j.jobId)).length,
      failureReasons,
      peakRssMb: round(peakRssMb),
      eventLoopMaxMs: loop.maxMs,
      livezChecks: loop.checks,
      adminSilentMs,
      jobEndMedianMs: stopped ? round(median(stopped.jobEndMs) ?? NaN, 2) : undefined,
      simulator: stopped?.stats ?? idleEnd,
    };
    log(`${count} agents rollout: ${rollout.state} in ${seconds ?? '–'} s, ${rollout.succeeded} succeeded, ${rollout.failed} failed (${rollout.failedAfterSuccess} after their agent's success was accepted), /livez max ${loop.maxMs} ms, job end median ${rollout.jobEndMedianMs} ms`);
    return {
      agents: count,
      enrollSeconds: round(enrollMs / 1000),
      rssBeforeMb: round(rssBeforeMb),
      idleRss,
      idleCpuPct: round(idleCpuPct, 2),
      idleSystemPct,
      httpFloorCpuPct,
      idleGc,
      idlePollsAnswered: idleEnd.emptyPolls - idleStats.emptyPolls,
      rollout,
    };
  } finally {
    await sim?.stop();
    await world.close();
  }
}

/** Measures every size in turn (each on a fresh hub) and returns the figures as bench/results.json keys. */
export async function measureFleet(
  sizes: number[],
  options: FleetOptions,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<Record<string, unknown>> {
  const figures: FleetSizeFigures[] = [];
  const errors: Record<string, string> = {};
  for (const size of sizes) {
    try {
      figures.push(await measureSize(size, options, log));
    } catch (err) {
      // One size that could not be measured must not lose the others' figures.
      errors[String(size)] = err instanceof Error ? err.message : String(err);
      log(`${size} agents: not measured: ${errors[String(size)]}`);
    }
  }
  const bySize = <T>(pick: (f: FleetSizeFigures) => T) => Object.fromEntries(figures.map((f) => [String(f.agents), pick(f)]));
  const smallest = figures[0];
  const largest = figures[figures.length - 1];
  const ratio = smallest?.rollout.jobEndMedianMs && largest?.rollout.jobEndMedianMs && figures.length > 1 ? round(largest.rollout.jobEndMedianMs / smallest.rollout.jobEndMedianMs, 2) : undefined;
  return {
    fleet_idle_rss_mb: { ...bySize((f) => ({ median: f.idleRss.median, max: f.idleRss.max, per_agent_kb: f.idleRss.perAgentKb, samples: f.idleRss.samples, before_fleet: f.rssBeforeMb })), target: FLEET_TARGETS.idleRssMb, idle_seconds: options.idleSeconds },
    fleet_idle_cpu_pct: { ...bySize((f) => ({ value: f.idleCpuPct, system_pct: f.idleSystemPct, http_floor_pct: f.httpFloorCpuPct, over_http_floor: round(f.idleCpuPct / f.httpFloorCpuPct, 2), polls_answered: f.idlePollsAnswered, gc_pause_pct: f.idleGc.pct, gc: f.idleGc.byKind })), target: FLEET_TARGETS.idleCpuPct },
    fleet_enroll_s: bySize((f) => f.enrollSeconds),
    fleet_rollout_s: {
      ...bySize((f) => ({
        value: f.rollout.seconds,
        state: f.rollout.state,
        ...(f.rollout.gaveUpAfterSeconds === undefined ? {} : { gave_up_after_s: f.rollout.gaveUpAfterSeconds }),
        jobs: f.rollout.jobs,
        succeeded: f.rollout.succeeded,
        failed: f.rollout.failed,
        false_failures: f.rollout.falseFailures,
        failed_after_success: f.rollout.failedAfterSuccess,
        ...(f.rollout.failed ? { failure_reasons: f.rollout.failureReasons } : {}),
        peak_rss_mb: f.rollout.peakRssMb,
        admin_api_max_ms: f.rollout.adminSilentMs,
        simulator_succeeded: f.rollout.simulator.succeeded,
        simulator_errors: f.rollout.simulator.errors,
      })),
      target: FLEET_TARGETS.rolloutSeconds,
    },
    event_loop_max_ms: { ...bySize((f) => f.rollout.eventLoopMaxMs), target: FLEET_TARGETS.eventLoopMaxMs },
    job_end_ms: bySize((f) => f.rollout.jobEndMedianMs),
    job_end_cost_ratio: { value: ratio, sizes: figures.map((f) => f.agents), target: FLEET_TARGETS.jobEndCostRatio },
    ...(Object.keys(errors).length ? { fleet_errors: errors } : {}),
  };
}
