/**
 * Issue 15's live-page figures: one real hub process (SQLite, loopback) with 1,000 simulated agents (BENCH_LIVE_AGENTS)
 * speaking the real agent API from this process, and all-at-once rollouts to all of them (no step runs: each agent
 * claims its job and reports `running`, `succeeded`), alternately with no live page open and with 100 open
 * (BENCH_LIVE_READERS: node:http readers of `GET /deployments/:id/live`, in a child process, bench/live-readers.ts)
 * plus 3 real Chromium pages (BENCH_LIVE_BROWSERS; 0 leaves them out), after one warm-up rollout nobody watches:
 *
 *   live_update_ms          event to reader, p50 / p95 / max over every reader: the k-th `succeeded` report the agents
 *                           sent → the first `update` whose counts show k servers succeeded (so the mean is exact;
 *                           the percentiles pair the k-th report sent with the k-th shown). `named_rows`: the same
 *                           exactly per job, for the servers the page names (its first 50): that agent's report sent →
 *                           the first `update` naming that server `succeeded`. `browser`: the same in the Chromium
 *                           pages, up to the page's own script. Each reader's events received against the events
 *                           expected (every distinct update any reader got after the agents started: every open
 *                           stream shares one feed, so each should get each); a reader that missed one, or whose
 *                           stream did not end, is listed as a failure. Target p50 ≤ 500.
 *   live_pages_extra_cpu_s  the hub's CPU seconds (utime + stime) for a rollout with the pages open minus without
 *                           (means over BENCH_LIVE_ROUNDS pairs, default 2), also as % of the rollout's own; each
 *                           rollout's seconds (agents start → the hub's finishedAt).
 *
 * Agents, readers and browsers share the machine's cores with the hub, which the figures include: the readers' child
 * process and Chromium compete with it for CPU, and a reader's arrival time includes its own process's queue.
 * Before each rollout starts, every agent already holds its job and every page its first view, so all pages watch
 * the whole rollout; the agents then claim and report, BENCH_LIVE_CONCURRENCY (default 50) at a time.
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { packageRoot } from '../lib/package-root.js';
import { ADMIN_API_PREFIX, AGENT_API_PREFIX, FINAL_DEPLOYMENT_STATES } from '../lib/protocol.js';
import { startWorld, type World } from '../testbed/world.js';
import { round, sleep } from './fleet.js';
import { openBrowserPages, type BrowserPages } from './live-browser-pages.js';
import { readerFigures, type RolloutRun } from './live-figures.js';
import type { ReaderResult, ReadersCommand, ReadersMessage } from './live-readers.js';

/** Issue 15: event to browser, p50. */
export const LIVE_UPDATE_TARGET_MS = 500;

export interface LiveBenchOptions {
  agents: number;
  readers: number;
  browsers: number;
  /** Pairs of rollouts (without pages, with pages) after the warm-up. */
  rounds: number;
  concurrency: number;
  /** Readers that drop every other update: the benchmark's test shows that a missed event is reported. */
  brokenReaders?: number;
  log?: (line: string) => void;
}

interface SimAgent {
  name: string;
  credential: string;
}


const now = () => performance.timeOrigin + performance.now();
// Keep-alive connections for the agents' calls (a socket each for their held polls); a new pool per measurement.
let pool = new Agent({ keepAlive: true, maxSockets: Infinity });

function call(hub: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${hub}${path}`, { agent: pool, method, headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) }, timeout: 120_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 120 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function expectJson<T>(answer: Promise<{ status: number; text: string }>, what: string, status = 200): Promise<T> {
  const { status: got, text } = await answer;
  if (got !== status) throw new Error(`${what} answered HTTP ${got}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** Runs `work` on every item, `limit` at once. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

async function enroll(world: World, count: number, concurrency: number): Promise<SimAgent[]> {
  const hub = world.hub.url;
  const agents: SimAgent[] = [];
  await inParallel(Array.from({ length: count }, (_, i) => `live-${i + 1}`), concurrency, async (name) => {
    const { token } = await expectJson<{ token: string }>(call(hub, 'POST', `${ADMIN_API_PREFIX}/enrollment-tokens`, world.hub.adminToken), 'minting an enrollment token', 201);
    const body = { token, name, labels: { role: 'web' }, version: 'bench' };
    const { credential } = await expectJson<{ credential: string }>(call(hub, 'POST', `${AGENT_API_PREFIX}/enroll`, '', body), `enrolling ${name}`, 201);
    agents.push({ name, credential });
  });
  return agents;
}

/** The agent's next job, from long polls held until one comes. */
async function takeJob(hub: string, agent: SimAgent): Promise<string> {
  for (;;) {
    const answer = await call(hub, 'GET', `${AGENT_API_PREFIX}/jobs/next?wait=50`, agent.credential);
    if (answer.status === 200) return (JSON.parse(answer.text) as { job: { id: string } }).job.id;
    if (answer.status !== 204) throw new Error(`${agent.name}'s poll answered HTTP ${answer.status}: ${answer.text.slice(0, 300)}`);
  }
}

async function runJob(hub: string, agent: SimAgent, jobId: string, sentBy: Map<string, number>): Promise<void> {
  const claimId = `cl_${agent.name}_${jobId.slice(-8)}`.replace(/[^\w-]/g, '_');
  await expectJson(call(hub, 'POST', `${AGENT_API_PREFIX}/jobs/${jobId}/claim`, agent.credential, { claimId }), `${agent.name}'s claim`);
  const at = new Date().toISOString();
  const events = [
    { seq: 1, at, type: 'state', state: 'running' },
    { seq: 2, at, type: 'state', state: 'succeeded' },
  ];
  sentBy.set(agent.name, now());
  await expectJson(call(hub, 'POST', `${AGENT_API_PREFIX}/jobs/${jobId}/events`, agent.credential, { claimId, events }), `${agent.name}'s report`);
}

/** utime + stime of a process, in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Readers {
  count: number;
  kill(): void;
  /** What each reader heard, once every stream ended (or after `waitMs`); the child process exits. */
  collect(waitMs: number): Promise<ReaderResult[]>;
}

/** The readers' child process, open on `url`, once every reader holds its first update. */
async function openReaders(url: string, count: number, broken: number): Promise<Readers> {
  const child = fork(join(packageRoot(), 'dist', 'bench', 'live-readers.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T extends ReadersMessage['type']>(type: T, ms: number) =>
    new Promise<Extract<ReadersMessage, { type: T }>>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        child.off('message', heard);
        child.off('exit', gone);
      };
      const timer = setTimeout(() => (done(), reject(new Error(`the live readers sent no '${type}' within ${ms / 1000} s`))), ms);
      const heard = (m: ReadersMessage) => {
        if (m.type === 'failed') reject(new Error(`live readers: ${m.message}`));
        else if (m.type === type) resolve(m as Extract<ReadersMessage, { type: T }>);
        else return;
        done();
      };
      const gone = () => (done(), reject(new Error(`the live readers exited before sending '${type}'`)));
      child.on('message', heard);
      child.once('exit', gone);
    });
  const ready = next('ready', 120_000);
  child.send({ type: 'open', url, count, broken } satisfies ReadersCommand);
  await ready.catch((err: unknown) => (child.kill(), Promise.reject(err)));
  return {
    count,
    kill: () => void child.kill(),
    async collect(waitMs: number): Promise<ReaderResult[]> {
      const results = next('results', waitMs + 30_000);
      child.send({ type: 'collect', waitMs } satisfies ReadersCommand);
      return (await results.finally(() => child.kill())).readers;
    },
  };
}

async function rollout(world: World, agents: SimAgent[], pages: { readers: number; browsers: number; broken: number }, options: LiveBenchOptions): Promise<RolloutRun> {
  const hub = world.hub.url;
  // Every agent holds a poll, then takes its job; none claims it before the pages are open.
  const jobs = Promise.all(agents.map((a) => takeJob(hub, a)));
  await sleep(200);
  const { deployment } = await expectJson<{ deployment: { id: string } }>(call(hub, 'POST', `${ADMIN_API_PREFIX}/deployments`, world.hub.adminToken, { repository: 'demo/shop', ref: 'main', environment: 'staging' }), 'creating the deployment', 201);
  const jobIds = await jobs;
  const readers = pages.readers ? await openReaders(`${hub}/deployments/${deployment.id}/live`, pages.readers, pages.broken) : undefined;
  let browsers: BrowserPages | undefined;
  try {
    browsers = pages.browsers ? await openBrowserPages(`${hub}/deployments/${deployment.id}`, pages.browsers) : undefined;
    await browsers?.ready();
    return await watchRollout(world, agents, jobIds, deployment.id, { ...pages, readers, browsers }, options);
  } catch (err) {
    readers?.kill();
    await browsers?.close(0);
    throw err;
  }
}

/** Lets the agents claim and report, and waits for the deployment to end and every page to hear it. */
async function watchRollout(
  world: World,
  agents: SimAgent[],
  jobIds: string[],
  deploymentId: string,
  pages: { readers?: Readers; browsers?: BrowserPages; broken: number },
  options: LiveBenchOptions,
): Promise<RolloutRun> {
  const hub = world.hub.url;
  const { readers, browsers } = pages;
  await sleep(1000);

  const sentBy = new Map<string, number>();
  const cpuStart = await cpuSeconds(world.hub.child.pid!);
  const goAt = now();
  let refused: unknown;
  const work = inParallel(agents.map((a, i) => ({ a, job: jobIds[i]! })), options.concurrency, ({ a, job }) => runJob(hub, a, job, sentBy)).catch((err: unknown) => void (refused = err));
  let state = 'running';
  let finishedAt: string | undefined;
  for (const giveUpAt = Date.now() + 600_000; !FINAL_DEPLOYMENT_STATES.includes(state as never) && refused === undefined && Date.now() < giveUpAt; ) {
    await sleep(200);
    const { deployments } = await expectJson<{ deployments: Array<{ id: string; state: string; finishedAt?: string }> }>(call(hub, 'GET', `${ADMIN_API_PREFIX}/deployments?limit=5`, world.hub.adminToken), 'listing deployments');
    const d = deployments.find((x) => x.id === deploymentId);
    ({ state = state, finishedAt } = d ?? {});
  }
  const cpuSecondsUsed = (await cpuSeconds(world.hub.child.pid!)) - cpuStart;
  await work;
  if (refused !== undefined) throw refused;
  const run: RolloutRun = {
    pages: (readers?.count ?? 0) + (browsers?.count ?? 0),
    cpuSeconds: round(cpuSecondsUsed, 2),
    rolloutSeconds: finishedAt ? round((Date.parse(finishedAt) - goAt) / 1000, 2) : NaN,
    state,
    readers: (await readers?.collect(30_000)) ?? [],
    browsers: (await browsers?.close(30_000)) ?? [],
    goAt,
    sent: [...sentBy.values()].sort((a, b) => a - b),
    sentBy,
  };
  options.log?.(`rollout to ${agents.length} agents with ${run.pages} live pages: ${state} in ${run.rolloutSeconds} s, hub CPU ${run.cpuSeconds} s`);
  return run;
}

const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / xs.length, 2);

export async function measureLiveUpdates(options: LiveBenchOptions): Promise<Record<string, unknown>> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const world = await startWorld({ agents: 0, hubEnv: { LOG_LEVEL: 'warn', BITENVOY_CONFIG_REFRESH_SECONDS: '3600' } });
  pool = new Agent({ keepAlive: true, maxSockets: Infinity });
  try {
    const agents = await enroll(world, options.agents, options.concurrency);
    log(`${agents.length} simulated agents enrolled`);
    const quiet = { readers: 0, browsers: 0, broken: 0 };
    const watched = { readers: options.readers, browsers: options.browsers, broken: options.brokenReaders ?? 0 };
    const warmUp = await rollout(world, agents, quiet, { ...options, log });
    const without: RolloutRun[] = [];
    const withPages: RolloutRun[] = [];
    for (let r = 0; r < options.rounds; r++) {
      without.push(await rollout(world, agents, quiet, { ...options, log }));
      withPages.push(await rollout(world, agents, watched, { ...options, log }));
    }
    const all = [warmUp, ...without, ...withPages];
    const notSuccess = all.filter((r) => r.state !== 'success').map((r) => r.state);
    const cpu0 = mean(without.map((r) => r.cpuSeconds));
    const cpuPages = mean(withPages.map((r) => r.cpuSeconds));
    const nodeReaders = readerFigures(withPages, (r) => r.readers);
    return {
      live_update_ms: {
        ...nodeReaders,
        ...(options.browsers ? { browser: readerFigures(withPages, (r) => r.browsers) } : {}),
        agents: options.agents,
        pages: options.readers + options.browsers,
        rollouts: withPages.length,
        readers_in: `a child process (bench/live-readers.ts) on the same ${availableParallelism()} cores as the hub`,
        ...(notSuccess.length ? { rollouts_not_success: notSuccess } : {}),
        target_p50: LIVE_UPDATE_TARGET_MS,
      },
      live_pages_extra_cpu_s: {
        value: round(cpuPages - cpu0, 2),
        pct: round(((cpuPages - cpu0) / cpu0) * 100, 1),
        hub_cpu_s: { pages_0: without.map((r) => r.cpuSeconds), [`pages_${options.readers + options.browsers}`]: withPages.map((r) => r.cpuSeconds), warm_up: warmUp.cpuSeconds },
        rollout_s: { pages_0: without.map((r) => r.rolloutSeconds), [`pages_${options.readers + options.browsers}`]: withPages.map((r) => r.rolloutSeconds), warm_up: warmUp.rolloutSeconds },
      },
    };
  } finally {
    pool.destroy();
    await world.close();
  }
}
