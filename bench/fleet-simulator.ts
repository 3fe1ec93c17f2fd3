/**
 * The fleet benchmark's simulated agents, in a process of their own (so the hub's figures are the hub's): they
 * enroll through the real APIs, each holds a long poll on a keep-alive connection, and a job that arrives is claimed
 * and reported `running` then `succeeded` — no step runs. Driven by bench/fleet.ts over the IPC channel:
 *
 *   parent → { type: 'start', hubUrl, hubUrls?, adminToken, count, concurrency, deadlineSeconds }
 *   child  → { type: 'enrolled', count, ms } once every agent has its credential, then polls start
 *   parent → { type: 'stats' }   child → { type: 'stats', stats }   (any time)
 *   parent → { type: 'stop' }    child → { type: 'stopped', stats, succeededJobIds, jobEndMs } and exits
 *
 * It bounds itself: past `deadlineSeconds`, or when the parent goes away, it prints how far it got, closes every
 * socket and exits. Loopback only: the hub URL comes from the parent, which started the hub on 127.0.0.1.
 *
 * With `hubUrls` (hub replicas on one store, bench/replicas.ts), agent i enrolls through and speaks only to replica
 * `i mod n`, as agents spread by a load balancer that keeps their connections would.
 */
import { Agent, request } from 'node:http';
import { ADMIN_API_PREFIX, AGENT_API_PREFIX } from '../lib/protocol.js';

export interface SimulatorStart {
  type: 'start';
  hubUrl: string;
  /** Several replicas of one hub: agents are assigned to them round-robin (default: `[hubUrl]`). */
  hubUrls?: string[];
  adminToken: string;
  count: number;
  /** Claims and reports in flight at once; every poll is held regardless. */
  concurrency: number;
  deadlineSeconds: number;
}

export interface SimulatorStats {
  enrolled: number;
  /** Polls sent and not yet answered: held by the hub (or on their way). */
  holding: number;
  /** Polls answered 204 (nothing to do) since the start. */
  emptyPolls: number;
  jobsTaken: number;
  claimed: number;
  succeeded: number;
  /** Answers that were neither expected nor retried (HTTP status or network error), by kind. */
  errors: Record<string, number>;
}

export type SimulatorMessage =
  | { type: 'enrolled'; count: number; ms: number }
  | { type: 'stats'; stats: SimulatorStats }
  | { type: 'stopped'; stats: SimulatorStats; succeededJobIds: string[]; jobEndMs: number[] }
  | { type: 'failed'; message: string; stats: SimulatorStats };

interface SimAgent {
  id: string;
  credential: string;
  /** The replica it speaks to. */
  hub: URL;
}

interface Answer {
  status: number;
  text: string;
  ms: number;
}

const stats: SimulatorStats = { enrolled: 0, holding: 0, emptyPolls: 0, jobsTaken: 0, claimed: 0, succeeded: 0, errors: {} };
const succeededJobIds: string[] = [];
const jobEndMs: number[] = [];
let stopped = false;
let finishing = false;
// One keep-alive pool for every simulated agent: a socket each for the held polls, plus the workers' requests.
const pool = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity, scheduling: 'lifo' });
let hubUrls: URL[];

function countError(kind: string): void {
  stats.errors[kind] = (stats.errors[kind] ?? 0) + 1;
}

function call(hub: URL, method: string, path: string, token: string, body?: unknown, timeoutMs = 120_000): Promise<Answer> {
  const started = performance.now();
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent: pool,
        host: hub.hostname,
        port: hub.port,
        method,
        path,
        headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`), { code: 'NO_ANSWER' })));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs `work` for every item, at most `limit` at once. */
async function inParallel<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (!stopped && next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function enroll(adminToken: string, count: number, concurrency: number): Promise<SimAgent[]> {
  const agents: SimAgent[] = new Array<SimAgent>(count);
  await inParallel(Array.from({ length: count }, (_, i) => i), concurrency, async (i) => {
    const hub = hubUrls[i % hubUrls.length]!;
    const minted = await call(hub, 'POST', `${ADMIN_API_PREFIX}/enrollment-tokens`, adminToken);
    if (minted.status !== 201) throw new Error(`minting enrollment token ${i + 1} answered HTTP ${minted.status}: ${minted.text.slice(0, 300)}`);
    const { token } = JSON.parse(minted.text) as { token: string };
    const body = { token, name: `fleet-${i + 1}`, labels: { role: 'web' }, version: 'bench' };
    const enrolled = await call(hub, 'POST', `${AGENT_API_PREFIX}/enroll`, '', body);
    if (enrolled.status !== 201) throw new Error(`enrolling fleet-${i + 1} answered HTTP ${enrolled.status}: ${enrolled.text.slice(0, 300)}`);
    const json = JSON.parse(enrolled.text) as { agentId: string; credential: string };
    agents[i] = { id: json.agentId, credential: json.credential, hub };
    stats.enrolled++;
  });
  return agents;
}

/** A counting semaphore: the claims and reports in flight at once. */
function limiter(limit: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (work) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await work();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/**
 * A claim or report sent until a replica answers it, as a real agent does: with the same claim id and sequence
 * numbers, so a repeat is recognised. A replica killed under the request (no answer) or without its store (503)
 * is not the hub's answer; after a minute of those the last one is.
 */
async function callUntilAnswered(hub: URL, method: string, path: string, token: string, body: unknown): Promise<Answer> {
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await call(hub, method, path, token, body);
      if (answer.status !== 503 || attempt >= 120 || stopped) return answer;
      countError('retried HTTP 503');
    } catch (err) {
      if (attempt >= 120 || stopped) throw err;
      countError(`retried ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function runJob(agent: SimAgent, jobId: string): Promise<void> {
  const claimId = `cl_${agent.id.slice(3, 15)}${jobId.slice(-8)}`.replace(/[^\w-]/g, '_');
  const claim = await callUntilAnswered(agent.hub, 'POST', `${AGENT_API_PREFIX}/jobs/${jobId}/claim`, agent.credential, { claimId });
  if (claim.status !== 200) return countError(`claim HTTP ${claim.status}`);
  stats.claimed++;
  const at = new Date().toISOString();
  const events = [
    { seq: 1, at, type: 'state', state: 'running' },
    { seq: 2, at, type: 'state', state: 'succeeded' },
  ];
  const done = await callUntilAnswered(agent.hub, 'POST', `${AGENT_API_PREFIX}/jobs/${jobId}/events`, agent.credential, { claimId, events });
  if (done.status !== 200) return countError(`events HTTP ${done.status}`);
  jobEndMs.push(done.ms);
  succeededJobIds.push(jobId);
  stats.succeeded++;
}

async function pollLoop(agent: SimAgent, bounded: <T>(work: () => Promise<T>) => Promise<T>): Promise<void> {
  while (!stopped) {
    stats.holding++;
    let answer: Answer;
    try {
      answer = await call(agent.hub, 'GET', `${AGENT_API_PREFIX}/jobs/next?wait=50`, agent.credential, undefined, 70_000);
    } catch (err) {
      if (stopped) return;
      countError(`poll ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    } finally {
      stats.holding--;
    }
    if (answer.status === 204) {
      stats.emptyPolls++;
      continue;
    }
    if (answer.status !== 200) {
      countError(`poll HTTP ${answer.status}`);
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    const { job } = JSON.parse(answer.text) as { job: { id: string } };
    stats.jobsTaken++;
    await bounded(() => runJob(agent, job.id)).catch((err: unknown) => countError(`job ${(err as NodeJS.ErrnoException).code ?? 'error'}`));
  }
}

function send(message: SimulatorMessage, then?: () => void): void {
  if (process.send && process.connected) process.send(message, undefined, {}, () => then?.());
  else then?.();
}

function finish(code: number): void {
  if (finishing) return;
  finishing = true;
  stopped = true;
  pool.destroy();
  // Exit once the last message has left (it may be large: every job id); at the latest after 5 s.
  setTimeout(() => process.exit(code), 5000).unref();
  send({ type: 'stopped', stats, succeededJobIds, jobEndMs }, () => process.exit(code));
}

async function start(message: SimulatorStart): Promise<void> {
  hubUrls = (message.hubUrls ?? [message.hubUrl]).map((u) => new URL(u));
  for (const hub of hubUrls) if (!['127.0.0.1', 'localhost', '[::1]'].includes(hub.hostname)) throw new Error(`the simulator only speaks to loopback, not ${hub.hostname}`);
  const deadline = setTimeout(() => {
    process.stderr.write(`fleet simulator: deadline of ${message.deadlineSeconds} s reached; got this far: ${JSON.stringify(stats)}\n`);
    finish(2);
  }, message.deadlineSeconds * 1000);
  deadline.unref();
  const began = performance.now();
  const agents = await enroll(message.adminToken, message.count, message.concurrency);
  if (stopped) return;
  send({ type: 'enrolled', count: agents.length, ms: Math.round(performance.now() - began) });
  const bounded = limiter(message.concurrency);
  for (const agent of agents) void pollLoop(agent, bounded);
}

process.on('message', (message: SimulatorStart | { type: 'stats' } | { type: 'stop' }) => {
  if (message.type === 'start') {
    start(message).catch((err: unknown) => {
      send({ type: 'failed', message: err instanceof Error ? err.message : String(err), stats });
      finish(1);
    });
  } else if (message.type === 'stats') {
    send({ type: 'stats', stats });
  } else if (message.type === 'stop') {
    finish(0);
  }
});
// The parent went away (crashed, killed): nothing here may outlive it.
process.on('disconnect', () => {
  stopped = true;
  pool.destroy();
  process.exit(3);
});
