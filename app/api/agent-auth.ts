import type { Middleware } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import { hashSecret } from '../enroll/create-enroll-token.js';
import type { AgentRecord } from '../model.js';
import { agentByCredential, agentIdentityByCredential, recordLastSeen, type AgentIdentity } from '../store/agent-queries.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../../lib/logger.js';
import { clientAddress } from './client-address.js';
import { AGENT_CREDENTIAL_GUESSES, GuessLimiter } from './guess-limiter.js';

/** How often at most an agent's `lastSeenAt` is written: every request is a heartbeat, not every one a write. */
const HEARTBEAT_WRITE_MS = 5000;

/**
 * Heartbeats are gathered and written together every {@link HEARTBEAT_FLUSH_MS}: 10,000 agents polling every 50 s
 * are 200 heartbeats a second, one transaction every 2 s instead of 200. An agent counts as lost only after three
 * heartbeat intervals (minutes), so a `lastSeenAt` a few seconds behind changes nothing.
 */
const HEARTBEAT_FLUSH_MS = 2000;

class Heartbeats {
  #store: Store;
  #pending = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  note(agentId: string, at: string): void {
    this.#pending.set(agentId, at);
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const batch = this.#pending;
      this.#pending = new Map();
      // A store closed meanwhile (the hub stopping) loses a few seconds of heartbeats: nothing that matters.
      recordLastSeen(this.#store, batch).catch(() => undefined);
    }, HEARTBEAT_FLUSH_MS);
    this.#timer.unref();
  }
}

/**
 * How long the long poll and the job routes (claim, lease, events, logs) trust a credential they have already looked
 * up, before asking the store again. Credentials are never changed or taken back today (an agent is enrolled once,
 * with one credential for good); whatever comes to revoke one must call {@link forgetAgentCredentials} in its process,
 * and tell the other replicas (they would otherwise accept the credential's polls and job reports for up to this long).
 * The cloud identity routes, which read the whole record, ask the store each time.
 */
const CREDENTIAL_TRUSTED_MS = 10 * 60_000;

/**
 * The credential lookups of the long poll and the job routes: 10,000 idle agents poll 200 times a second, and each
 * poll asked SQLite for the agent's id (an index read, the largest part of a poll's CPU after the socket); a rollout's
 * claim and report were two of a job's nine PostgreSQL round trips. Only credentials the store knew are kept, each for
 * {@link CREDENTIAL_TRUSTED_MS}: a guess is always asked of the store (and counted). Bounded by the enrolled agents
 * (about 250 bytes each).
 */
class KnownCredentials {
  #byHash = new Map<string, { id: string; name: string; checkedAt: number; lastSeenAt: string }>();

  get(hash: string, now: number): AgentIdentity | undefined {
    const known = this.#byHash.get(hash);
    if (!known) return undefined;
    if (now - known.checkedAt > CREDENTIAL_TRUSTED_MS) return void this.#byHash.delete(hash);
    return known;
  }

  set(hash: string, agent: AgentIdentity, now: number): void {
    this.#byHash.set(hash, { id: agent.id, name: agent.name, checkedAt: now, lastSeenAt: agent.lastSeenAt });
  }

  /** A heartbeat noted for the agent: the next poll's check compares with it. */
  seen(hash: string, at: string): void {
    const known = this.#byHash.get(hash);
    if (known) known.lastSeenAt = at;
  }

  forget(agentId: string): void {
    for (const [hash, known] of this.#byHash) if (known.id === agentId) this.#byHash.delete(hash);
  }
}

const heartbeats = new WeakMap<Store, Heartbeats>();
const knownCredentials = new WeakMap<Store, KnownCredentials>();

function knownCredentialsOf(store: Store): KnownCredentials {
  let of = knownCredentials.get(store);
  if (!of) knownCredentials.set(store, (of = new KnownCredentials()));
  return of;
}

/**
 * The long poll stops trusting the agent's credential from memory (see {@link CREDENTIAL_TRUSTED_MS}): call it in the
 * process that removes an agent or changes its credential. O(enrolled agents), for a rare administrative act.
 */
export function forgetAgentCredentials(store: Store, agentId: string): void {
  knownCredentials.get(store)?.forget(agentId);
}

function heartbeatsOf(store: Store): Heartbeats {
  let of = heartbeats.get(store);
  if (!of) heartbeats.set(store, (of = new Heartbeats(store)));
  return of;
}

/**
 * The agent whose credential `authorization` (`Bearer bta_…`) carries, with its heartbeat recorded; throws 401
 * BE_UNAUTHORIZED otherwise. Shared by the Koa routes ({@link agentAuth}) and, as {@link authenticateAgentId}, the
 * long-poll route, which is answered below Koa (poll-route.ts).
 *
 * Wrong credentials count against `guesses` by client address (`address` is asked only then); past the limit they
 * answer 429 instead of 401. A right credential is always looked up and let in, so a guesser behind the same address
 * (a shared NAT) cannot lock the real agents out. Credentials are 256 random bits: the limit is about a guesser's
 * cost and noise.
 *
 * @example
 * const agent = await authenticateAgent(store, guesses, { authorization: req.headers.authorization, address: () => '203.0.113.7' });
 */
export async function authenticateAgent(store: Store, guesses: GuessLimiter, request: AgentRequest): Promise<AgentRecord> {
  return authenticate(store, guesses, request, agentByCredential);
}

/**
 * {@link authenticateAgent} for the long poll and the job routes: the same checks and heartbeat, but only the agent's
 * id, name and last heartbeat are read (from indexed columns), not its whole record — and a credential the store knew
 * a moment ago is believed from memory (see {@link KnownCredentials}).
 */
export async function authenticateAgentId(store: Store, guesses: GuessLimiter, request: AgentRequest): Promise<AgentIdentity> {
  const known = knownCredentialsOf(store);
  const now = Date.now();
  return authenticate(store, guesses, request, async (_store, hash) => {
    const remembered = known.get(hash, now);
    if (remembered) return remembered;
    const agent = await agentIdentityByCredential(store, hash);
    if (agent) known.set(hash, agent, now);
    return agent;
  }, (hash, at) => known.seen(hash, at));
}

interface AgentRequest {
  authorization: string | undefined;
  address: () => string;
  log?: Logger;
}

async function authenticate<T extends AgentIdentity>(
  store: Store,
  guesses: GuessLimiter,
  request: AgentRequest,
  lookup: (store: Store, hash: string) => Promise<T | undefined>,
  noted?: (hash: string, at: string) => void,
): Promise<T> {
  const credential = /^Bearer\s+(\S+)$/i.exec(request.authorization ?? '')?.[1];
  if (!credential) throw new BitEnvoyError('BE_UNAUTHORIZED', 'missing `Authorization: Bearer <agent credential>`; enroll the agent with `bitenvoy agent enroll`');
  const hash = hashSecret(credential);
  const agent = await lookup(store, hash);
  if (!agent) {
    const address = request.address();
    guesses.assertMayTry(address);
    guesses.failed(address, request.log);
    throw new BitEnvoyError('BE_UNAUTHORIZED', 'unknown agent credential (the agent was removed or the hub lost its data); enroll it again with a new token');
  }
  if (!(Date.now() - Date.parse(agent.lastSeenAt) <= HEARTBEAT_WRITE_MS)) {
    const at = new Date().toISOString();
    heartbeatsOf(store).note(agent.id, at);
    noted?.(hash, at);
  }
  return agent;
}

/**
 * Koa middleware: {@link authenticateAgent}, then the agent on `ctx.state.agent`. Pass the same `guesses` to every
 * route that checks agent credentials, so that wrong guesses count once whichever route they hit.
 */
export function agentAuth(store: Store, guesses = new GuessLimiter(AGENT_CREDENTIAL_GUESSES)): Middleware {
  return credentialCheck(store, guesses, authenticateAgent);
}

/**
 * Koa middleware for the job routes (claim, lease, events, logs), which need only who the agent is:
 * {@link authenticateAgentId}, then its {@link AgentIdentity} on `ctx.state.agent`.
 */
export function agentIdentityAuth(store: Store, guesses = new GuessLimiter(AGENT_CREDENTIAL_GUESSES)): Middleware {
  return credentialCheck(store, guesses, authenticateAgentId);
}

function credentialCheck(store: Store, guesses: GuessLimiter, check: (store: Store, guesses: GuessLimiter, request: AgentRequest) => Promise<AgentIdentity>): Middleware {
  return async (ctx, next) => {
    setAgent(ctx, await check(store, guesses, { authorization: ctx.get('authorization'), address: () => clientAddress(ctx), log: ctx.state.log as Logger }));
    await next();
  };
}

function setAgent(ctx: Parameters<Middleware>[0], agent: AgentIdentity): void {
  ctx.state.agent = agent;
  // Every line logged for this request names the agent (and, on a job's routes, the job).
  const jobId = ctx.path.includes('/jobs/') ? (ctx as { params?: Record<string, string> }).params?.id : undefined;
  ctx.state.log = (ctx.state.log as Logger | undefined)?.child({ agentId: agent.id, ...(jobId ? { jobId } : {}) });
}
