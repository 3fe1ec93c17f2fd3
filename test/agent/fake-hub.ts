/**
 * A small stand-in for the hub, for agent tests: the agent API v1 routes of lib/protocol.ts on a real HTTP server on
 * 127.0.0.1, with sequence numbers enforced like the hub does (seq ≤ acked ignored, a gap answered 409 BE_SEQ_GAP),
 * every request recorded, and hooks to make it fail.
 *
 * @example
 * const hub = await startFakeHub();
 * hub.offer(jobSpec({ repository: 'acme/shop', url }));
 * await hub.waitFor(() => hub.finalState(id) !== undefined);
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { enrollAgent } from '../../agent/enroll-agent.js';
import { silentLogger } from '../../lib/logger.js';
import {
  AGENT_API_PREFIX,
  FINAL_JOB_STATES,
  type JobEvent,
  type JobSpec,
  type JobState,
  type LogChunk,
  type SuggestedAllow,
} from '../../lib/protocol.js';

export const FAKE_CREDENTIAL = 'agent-credential-0123456789';

export interface FakeJob {
  spec: JobSpec;
  claimId?: string;
  events: JobEvent[];
  logs: LogChunk[];
  cancelRequested: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  status: number;
  /** When it arrived (Date.now()). */
  at: number;
  /** The version the agent said (`x-bitenvoy-agent-version`), if it did. */
  agentVersion?: string;
}

/** An answer a hook gives instead of the fake hub's own: a status, headers, and a body (default: an error envelope). */
export interface FakeAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/**
 * Returns a status (e.g. 503) or a whole answer (e.g. 429 with Retry-After, or 204 to a poll at once) to give instead
 * of handling the request, or undefined to handle it.
 */
export type FailureHook = (method: string, path: string, body: unknown) => number | FakeAnswer | undefined;

export interface FakeHub {
  url: string;
  requests: RecordedRequest[];
  jobs: Map<string, FakeJob>;
  /** Queues a job for the agent (again, if it is known: as a hub restored from an old backup would). */
  offer(spec: JobSpec): void;
  /** Answers the next poll with `{ job: value }` exactly as given (a hub gone wrong), once; nothing is stored. */
  offerRaw(value: unknown): void;
  /** Answered before handling; an `afterStore` hook answers after the events/logs were stored (a lost ack). */
  fail: { before?: FailureHook; afterStore?: FailureHook };
  leaseSeconds: number;
  /** What the enrollment answer suggests the agent pin in its agent.yml (`suggestedAllow`); none when undefined. */
  suggestedAllow: SuggestedAllow | undefined;
  finalState(jobId: string): JobState | undefined;
  waitFor(check: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

let jobCounter = 0;

/** A job spec for the fake hub; `url` is where the agent fetches the commit from. */
export function jobSpec(fields: { url: string; sha: string; repository?: string; environment?: string; ref?: string; instructions?: string }): JobSpec {
  return {
    id: `job_${process.pid}_${++jobCounter}`,
    deploymentId: `dep_${jobCounter}`,
    repository: fields.repository ?? 'acme/shop',
    environment: fields.environment ?? 'staging',
    ref: fields.ref ?? 'main',
    sha: fields.sha,
    git: { url: fields.url },
    instructions: fields.instructions ?? 'bitenvoy.yml',
    createdAt: new Date().toISOString(),
  };
}

export async function startFakeHub(): Promise<FakeHub> {
  const jobs = new Map<string, FakeJob>();
  const queue: string[] = [];
  const rawQueue: unknown[] = [];
  const waiters = new Set<() => void>();
  const requests: RecordedRequest[] = [];

  const hub: FakeHub = {
    url: '',
    requests,
    jobs,
    fail: {},
    leaseSeconds: 60,
    suggestedAllow: undefined,
    offer(spec) {
      jobs.set(spec.id, { spec, events: [], logs: [], cancelRequested: false });
      queue.push(spec.id);
      for (const wake of waiters) wake();
    },
    offerRaw(value) {
      rawQueue.push(value);
      for (const wake of waiters) wake();
    },
    finalState(jobId) {
      const states = (jobs.get(jobId)?.events ?? []).flatMap((e) => (e.type === 'state' ? [e.state] : []));
      return states.find((s) => FINAL_JOB_STATES.includes(s));
    },
    async waitFor(check, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check()) {
        if (Date.now() > deadline) throw new Error('fake hub: condition not met in time');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: async () => undefined,
  };

  const answer = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, body === undefined ? headers : { 'content-type': 'application/json', ...headers });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, code: string, message: string, details?: Record<string, unknown>) =>
    answer(res, status, { error: { code, message, ...(details ? { details } : {}) } });

  /** Stores items in order: seq ≤ acked is a harmless resend, a skipped seq is a gap. */
  const store = <T extends { seq: number }>(held: T[], items: T[]): { acked: number } | { expected: number } => {
    for (const item of items) {
      const acked = held.length;
      if (item.seq <= acked) continue;
      if (item.seq !== acked + 1) return { expected: acked + 1 };
      held.push(item);
    }
    return { acked: held.length };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, path: string, body: unknown): Promise<number> => {
    const reply = (status: number, value?: unknown) => {
      answer(res, status, value);
      return status;
    };
    const hooked = (given: number | FakeAnswer, message: string): number => {
      const { status, headers, body: value } = typeof given === 'number' ? { status: given, headers: {}, body: undefined } : given;
      const envelope = status === 204 ? undefined : { error: { code: 'BE_INTERNAL', message } };
      answer(res, status, value ?? envelope, headers);
      return status;
    };
    const fail = hub.fail.before?.(req.method!, path, body);
    if (fail) return hooked(fail, 'fake hub failure');
    if (path === '/enroll') {
      const settings = { pollWaitSeconds: 1, leaseSeconds: hub.leaseSeconds, heartbeatSeconds: 60 };
      return reply(201, { agentId: 'agt_1', credential: FAKE_CREDENTIAL, settings, ...(hub.suggestedAllow ? { suggestedAllow: hub.suggestedAllow } : {}) });
    }
    if (req.headers.authorization !== `Bearer ${FAKE_CREDENTIAL}`) {
      error(res, 401, 'BE_UNAUTHORIZED', 'unknown credential');
      return 401;
    }
    const url = new URL(path, 'http://hub');
    if (url.pathname === '/jobs/next') {
      const wait = Number(url.searchParams.get('wait') ?? 0) * 1000;
      if (rawQueue.length) return reply(200, { job: rawQueue.shift() });
      if (!queue.length && wait > 0) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, Math.min(wait, 1000));
          waiters.add(wake);
          res.on('close', wake);
        });
      }
      const id = queue[0];
      return id ? reply(200, { job: jobs.get(id)!.spec }) : reply(204);
    }
    const match = /^\/jobs\/([^/]+)\/(claim|lease|events|logs)$/.exec(url.pathname);
    const job = match ? jobs.get(decodeURIComponent(match[1]!)) : undefined;
    if (!match || !job) {
      error(res, 404, 'BE_NOT_FOUND', 'no such job');
      return 404;
    }
    const claimId = (body as { claimId?: string }).claimId;
    if (match[2] === 'claim') {
      if (job.claimId && job.claimId !== claimId) {
        error(res, 409, 'BE_JOB_CLAIMED', `job ${job.spec.id} was already claimed`);
        return 409;
      }
      job.claimId = claimId!;
      const queued = queue.indexOf(job.spec.id);
      if (queued >= 0) queue.splice(queued, 1);
      return reply(200, { job: job.spec, lease: lease(job) });
    }
    if (job.claimId !== claimId) {
      error(res, 404, 'BE_NOT_FOUND', 'no such job');
      return 404;
    }
    if (match[2] === 'lease') {
      if (hub.finalState(job.spec.id)) {
        error(res, 409, 'BE_JOB_FINISHED', `job ${job.spec.id} already finished`);
        return 409;
      }
      return reply(200, lease(job));
    }
    const result = match[2] === 'events' ? store(job.events, (body as { events: JobEvent[] }).events) : store(job.logs, (body as { chunks: LogChunk[] }).chunks);
    if ('expected' in result) {
      error(res, 409, 'BE_SEQ_GAP', `expected seq ${result.expected}`, { expectedSeq: result.expected });
      return 409;
    }
    const lost = hub.fail.afterStore?.(req.method!, path, body);
    if (lost) return hooked(lost, 'fake hub failure after storing');
    return reply(200, { ackedSeq: result.acked });
  };

  const lease = (job: FakeJob) => ({ leaseExpiresAt: new Date(Date.now() + hub.leaseSeconds * 1000).toISOString(), leaseSeconds: hub.leaseSeconds, cancelRequested: job.cancelRequested });

  const server = createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').slice(AGENT_API_PREFIX.length);
      const text = Buffer.concat(chunks).toString('utf8');
      const body: unknown = text ? JSON.parse(text) : undefined;
      const agentVersion = req.headers['x-bitenvoy-agent-version'];
      void handle(req, res, path, body).then((status) => requests.push({ method: req.method!, path, body, status, at, ...(typeof agentVersion === 'string' ? { agentVersion } : {}) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () =>
    new Promise<void>((resolve) => {
      for (const wake of waiters) wake();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return hub;
}

/**
 * Enrolls an agent in `dir` with the fake hub. Its agent.yml is pinned by the owner's flags to the test's local git
 * repositories under `gitRoot` and the branch `main`: the fake hub suggests nothing, and an agent never takes a local
 * path from a hub's suggestion.
 */
export async function enrollLocalAgent(hub: FakeHub, gitRoot: string, dir: string, name: string): Promise<void> {
  const allow = { gitBaseUrls: [`file://${gitRoot}/`], branches: ['main'] };
  await enrollAgent({ hub: hub.url, token: 'enroll-token', name, labels: {}, dir, allow, log: silentLogger() });
}
