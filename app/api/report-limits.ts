/**
 * How fast one agent may post log chunks and events: token buckets of items and bytes per agent. Over the limit the
 * post answers 429 BE_RATE_LIMITED with `Retry-After` (and `details.retryAfterSeconds`); the agent waits that
 * long and resends (sequence numbers make that harmless). Until then its further posts are refused before their
 * body is read, so an agent that does not wait costs the hub next to nothing.
 *
 * The limits leave a real step room: the agent flushes every 200 ms in chunks of at most 16 KiB, so even a step
 * printing 50 MB over a few minutes (a verbose `npm ci`) stays under 1 MiB and a few dozen chunks a second; the
 * bursts take a whole journal's backlog after a restart in a few seconds.
 *
 * @example
 * const logs = new ReportLimiter('log chunks', LOG_POST_LIMITS);
 * logs.assertNotWaiting(agent.id, agent.name);                // before reading the body
 * logs.take(agent.id, agent.name, { items: chunks.length, bytes }); // after
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { DEFAULT_MAX_KEYS, retryAfterSeconds, TokenBuckets } from './rate-limit.js';

export interface ReportLimits {
  items: { perSecond: number; burst: number };
  /** Bytes of log data (UTF-8); absent: not counted. */
  bytes?: { perSecond: number; burst: number };
}

const MiB = 1024 * 1024;

/** Log posts per agent: 200 chunks and 1 MiB a second, bursts of 2,000 chunks and 8 MiB. */
export const LOG_POST_LIMITS: ReportLimits = { items: { perSecond: 200, burst: 2000 }, bytes: { perSecond: MiB, burst: 8 * MiB } };
/** Event posts per agent: a job has a few events per step; 20 a second, bursts of 500 (one full request). */
export const EVENT_POST_LIMITS: ReportLimits = { items: { perSecond: 20, burst: 500 } };

export class ReportLimiter {
  readonly what: string;
  readonly limits: ReportLimits;
  #items: TokenBuckets;
  #bytes: TokenBuckets | undefined;
  #waitUntil = new Map<string, number>();
  #now: () => number;

  constructor(what: string, limits: ReportLimits, now: () => number = Date.now) {
    this.what = what;
    this.limits = limits;
    this.#now = now;
    this.#items = new TokenBuckets({ rate: limits.items.perSecond, burst: limits.items.burst, now });
    this.#bytes = limits.bytes ? new TokenBuckets({ rate: limits.bytes.perSecond, burst: limits.bytes.burst, now }) : undefined;
  }

  /** Throws 429 while `agentId` was told to wait and that time has not come; reads nothing, costs next to nothing. */
  assertNotWaiting(agentId: string, agentName: string): void {
    const until = this.#waitUntil.get(agentId);
    if (until === undefined) return;
    const left = (until - this.#now()) / 1000;
    if (left <= 0) return void this.#waitUntil.delete(agentId);
    throw this.#refusal(agentName, left);
  }

  /**
   * Takes one request's cost (at least one item, so empty posts count too), or throws 429 and takes nothing. The
   * first refusal of a run is logged as a warning.
   */
  take(agentId: string, agentName: string, cost: { items: number; bytes?: number }, log?: Logger): void {
    const items = Math.max(1, cost.items);
    const wait = Math.max(this.#items.wait(agentId, items), this.#bytes?.wait(agentId, cost.bytes ?? 0) ?? 0);
    if (wait === 0) {
      this.#items.take(agentId, items);
      this.#bytes?.take(agentId, cost.bytes ?? 0);
      return;
    }
    if (!this.#waitUntil.has(agentId)) log?.warn({ agentId, agent: agentName, retryAfterSeconds: retryAfterSeconds(wait) }, `agent ${agentName} posts ${this.what} faster than the hub takes them; it is told to wait`);
    if (this.#waitUntil.size >= DEFAULT_MAX_KEYS) this.#waitUntil.delete(this.#waitUntil.keys().next().value!);
    this.#waitUntil.set(agentId, this.#now() + retryAfterSeconds(wait) * 1000);
    throw this.#refusal(agentName, wait);
  }

  #refusal(agentName: string, wait: number): BitEnvoyError {
    const seconds = retryAfterSeconds(wait);
    const { items, bytes } = this.limits;
    const rate = `${items.perSecond} ${this.what}${bytes ? ` and ${formatBytes(bytes.perSecond)}` : ''} a second, bursts of ${items.burst}${bytes ? ` and ${formatBytes(bytes.burst)}` : ''}`;
    return new BitEnvoyError('BE_RATE_LIMITED', `agent ${agentName} posts ${this.what} faster than the hub takes them (at most ${rate}); wait ${seconds} s (Retry-After) and send them again`, {
      details: { retryAfterSeconds: seconds },
    });
  }
}

function formatBytes(n: number): string {
  return n >= MiB ? `${n / MiB} MiB` : `${Math.round(n / 1024)} KiB`;
}
