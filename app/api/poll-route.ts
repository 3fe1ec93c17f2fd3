/**
 * `GET /api/agent/v1/jobs/next`, the long poll every idle agent holds, answered below Koa: a held poll costs its
 * socket, Node's request and response, and this handler's small closure — no Koa context, router match, child
 * logger or middleware chain, which a fleet of 10,000 idle agents would otherwise keep alive (about 14 KB each).
 *
 * The contract is the Koa route's, unchanged (see lib/protocol.ts): agent credential (with the heartbeat and the
 * limit of wrong guesses shared with the other agent routes), `wait` validated with the same error envelope, 200
 * `{ job }` as soon as one is there, 204 once the wait is over or the hub shuts down, and an agent that hangs up
 * stops the wait at once.
 *
 * @example
 * const poll = createPollHandler({ store, engine, settings, shutdown, guesses, log });
 * createServer((req, res) => (isPollPath(req.url) ? poll(req, res) : koaHandler(req, res)));
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { BitEnvoyError, toErrorEnvelope } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { AGENT_API_PREFIX, AGENT_VERSION_HEADER, type AgentSettings, type JobSpec } from '../../lib/protocol.js';
import { recordAgentVersion } from '../store/agent-queries.js';
import { HangUp, type JobNotifier } from '../jobs/job-notifier.js';
import type { Store } from '../store/store.js';
import { authenticateAgentId } from './agent-auth.js';
import type { BlockList } from 'node:net';
import { clientAddress } from './client-address.js';
import { cutUnreadBody } from './cut-unread-body.js';
import { requestIdFrom } from './request-id.js';
import type { GuessLimiter } from './guess-limiter.js';

/** The path this handler answers (any method: only GET and HEAD are allowed on it). */
export const POLL_PATH = `${AGENT_API_PREFIX}/jobs/next`;

/** Whether a request URL is the long-poll route (the query aside; a trailing slash allowed, as the router did). */
export function isPollPath(url: string | undefined): boolean {
  const path = (url ?? '/').split('?')[0];
  return path === POLL_PATH || path === `${POLL_PATH}/`;
}

export interface PollDeps {
  store: Store;
  engine: { nextJob(agentId: string): Promise<JobSpec | undefined>; readonly notifier: JobNotifier };
  settings: Pick<AgentSettings, 'pollWaitSeconds'>;
  /** Aborted when the hub closes: held polls answer 204 at once (the engine's stop also wakes the notifier). */
  shutdown: AbortSignal;
  /** The limit of wrong agent-credential guesses, the same instance the other agent routes use. */
  guesses: GuessLimiter;
  /** Whose X-Forwarded-For is believed (BITENVOY_TRUSTED_PROXIES), as for the routes behind Koa. */
  trustedProxies?: BlockList;
  log: Logger;
  /** Told when a poll starts (+1) and stops (-1) waiting (the metrics' long polls held). */
  held?: (delta: 1 | -1) => void;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** A Node request handler for {@link POLL_PATH}; it never throws, every refusal is the JSON error envelope. */
export function createPollHandler(deps: PollDeps): (req: IncomingMessage, res: ServerResponse) => void {
  // One listener for all held polls, not one each: on shutdown every waiting poll wakes, sees it, and answers 204.
  deps.shutdown.addEventListener('abort', () => deps.engine.notifier.wakeAll(), { once: true });
  return (req, res) => {
    answerPoll(deps, req, res).catch((err: unknown) => answerError(deps.log, req, res, err));
  };
}

async function answerPoll(deps: PollDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'HEAD, GET');
    throw new BitEnvoyError('BE_METHOD_NOT_ALLOWED', `${req.method} ${POLL_PATH} is not allowed; this route accepts HEAD, GET`);
  }
  // Only the id stays for the wait: the agent's record (labels, facts) is not kept alive by a held poll.
  const agentId = (
    await authenticateAgentId(deps.store, deps.guesses, {
      authorization: req.headers.authorization,
      address: () => clientAddress({ ip: forwardedFor(req), req, ...(deps.trustedProxies ? { trustedProxies: deps.trustedProxies } : {}) }),
      log: deps.log,
    })
  ).id;
  // An agent that just started says its version once (see AGENT_VERSION_HEADER): an upgraded agent shows as such.
  const reported = req.headers[AGENT_VERSION_HEADER];
  if (typeof reported === 'string') {
    recordAgentVersion(deps.store, agentId, reported).catch((err: unknown) => deps.log.warn({ err, agentId }, 'could not record the version an agent reported'));
  }
  const raw = waitParameter(req.url ?? '');
  const wait = raw === undefined ? deps.settings.pollWaitSeconds : Number(raw);
  if (!Number.isFinite(wait) || wait < 0) throw new BitEnvoyError('BE_BAD_REQUEST', `wait: expected a number of seconds ≥ 0, got ${JSON.stringify(raw)}`);
  const deadline = Date.now() + Math.min(wait, deps.settings.pollWaitSeconds) * 1000;
  // The response's `close` (not the request's) fires when the agent hangs up before we answer: a GET's request
  // stream may already have ended and closed, so it says nothing about the connection.
  const gone = new HangUp();
  // `on`, not `once`: the listener is taken off below in any case, and `once` wraps it in a new function every poll.
  res.on('close', gone.hangUp);
  if (req.socket.destroyed) gone.hangUp();
  deps.held?.(1);
  try {
    const notifier = deps.engine.notifier;
    for (;;) {
      // An idle fleet's polls ask the store only when a job may have been made for this agent since it last said none.
      if (notifier.mayHaveJob(agentId)) {
        const epoch = notifier.epoch;
        const job = await deps.engine.nextJob(agentId);
        if (job) return send(req, res, 200, JSON.stringify({ job }));
        notifier.noneFor(agentId, epoch);
        // A job announced for this agent while the store was read may have been committed after the read began: its
        // announcement woke nobody (this poll was not waiting yet), so the store is read once more, at once.
        if (notifier.mayHaveJob(agentId) && !gone.hungUp && !deps.shutdown.aborted) continue;
      }
      const left = deadline - Date.now();
      if (left <= 0 || gone.hungUp || deps.shutdown.aborted) break;
      // Only the hang-up: shutdown wakes every waiting poll through the notifier (see createPollHandler); a listener
      // per held poll on one long-lived signal is the kind of cost this route is here to avoid.
      const outcome = await notifier.waitForJob(agentId, left, gone);
      // A wait that ran out without a wake-up answers 204 without reading the store again: a job created meanwhile
      // woke it (this process) or is found by the agent's next poll, sent at once.
      if (outcome !== 'woken') break;
    }
    // A hub shutting down hands the poll back on a connection it closes: the agent's next poll opens a new one, which
    // a load balancer sends to another replica — no gap, no wait.
    if (deps.shutdown.aborted && !res.headersSent) res.setHeader('connection', 'close');
    send(req, res, 204);
  } finally {
    res.off('close', gone.hangUp);
    deps.held?.(-1);
  }
}

/**
 * The `wait` query parameter as given (an array when repeated): agents send exactly `?wait=50`, read without
 * building a parsed query; anything else goes through the full parser.
 */
function waitParameter(url: string): string | string[] | undefined {
  const query = url.slice(url.indexOf('?') + 1 || url.length);
  const plain = /^wait=(\d{1,6})$/.exec(query);
  return plain ? plain[1] : parseQuery(query).wait;
}

function send(req: IncomingMessage, res: ServerResponse, status: number, body?: string, id = requestId(req)): void {
  if (res.headersSent || res.destroyed) return;
  res.setHeader('x-request-id', id);
  if (body === undefined) return void res.writeHead(status).end();
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) }).end(body);
}

/** The error envelope, logged once, as error-middleware.ts answers the Koa routes. */
function answerError(log: Logger, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const { status, body } = toErrorEnvelope(err);
  const id = requestId(req);
  const reqLog = log.child({ requestId: id });
  const fields = { method: req.method, path: POLL_PATH, status, code: body.error.code };
  if (status >= 500) reqLog.error({ err, method: req.method, path: POLL_PATH }, 'request failed');
  // A flood of refused requests must not become a flood of log lines: the limiters log when one starts.
  else if (status === 429) reqLog.debug(fields, body.error.message);
  else reqLog.info(fields, body.error.message);
  if (res.headersSent || res.destroyed) return;
  const retryAfter = body.error.details?.retryAfterSeconds;
  if (typeof retryAfter === 'number') res.setHeader('retry-after', String(retryAfter));
  cutUnreadBody(req, res);
  send(req, res, status, JSON.stringify(body), id);
}

function requestId(req: IncomingMessage): string {
  return requestIdFrom(req.headers['x-request-id']);
}

/**
 * What Koa's `ctx.ip` is with `proxy` on and `maxIpsCount = 1` (see server.ts): the rightmost `X-Forwarded-For`
 * entry, else the peer. client-address.ts decides whether to believe it.
 */
function forwardedFor(req: IncomingMessage): string {
  const header = req.headers['x-forwarded-for'];
  const last = header ? String(header).split(/\s*,\s*/).pop() : undefined;
  return last || req.socket.remoteAddress || '';
}
