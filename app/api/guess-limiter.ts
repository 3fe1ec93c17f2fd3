/**
 * Limits wrong guesses of a secret (the admin token, an agent credential): per client address and, so that many
 * addresses together gain little, overall. Only failed attempts count; a right one costs nothing.
 *
 * @example
 * const guesses = new GuessLimiter(ADMIN_TOKEN_GUESSES);
 * guesses.assertMayTry(address);          // 429 BE_RATE_LIMITED once the budget is spent
 * if (!right) guesses.failed(address);
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { retryAfterSeconds, TokenBuckets } from './rate-limit.js';

export interface GuessLimits {
  /** What is guessed, for messages: "admin token". */
  what: string;
  /** Wrong guesses one address may make at once, and how many a minute come back. */
  perAddress: { burst: number; perMinute: number };
  /** The same for all addresses together. */
  overall: { burst: number; perMinute: number };
  /** Most addresses remembered (least recently seen forgotten first). */
  maxAddresses?: number;
}

/**
 * The admin token may be one a person chose: 10 wrong guesses per address, then one more every 6 s; 100 per minute
 * from everyone together. The sign-in page and the admin API share one limiter, as they guess the same token.
 */
export const ADMIN_TOKEN_GUESSES: GuessLimits = { what: 'admin token', perAddress: { burst: 10, perMinute: 10 }, overall: { burst: 100, perMinute: 100 } };

/**
 * Agent credentials are 256 random bits: the limit keeps a guesser's cost and noise down, it is not what keeps
 * them secret. It is more generous, and a right credential always gets in (see agent-auth.ts).
 */
export const AGENT_CREDENTIAL_GUESSES: GuessLimits = { what: 'agent credential', perAddress: { burst: 30, perMinute: 60 }, overall: { burst: 600, perMinute: 600 } };

const OVERALL = '*';

export class GuessLimiter {
  readonly limits: GuessLimits;
  #perAddress: TokenBuckets;
  #overall: TokenBuckets;

  constructor(limits: GuessLimits, now: () => number = Date.now) {
    this.limits = limits;
    this.#perAddress = new TokenBuckets({ rate: limits.perAddress.perMinute / 60, burst: limits.perAddress.burst, now, ...(limits.maxAddresses ? { maxKeys: limits.maxAddresses } : {}) });
    this.#overall = new TokenBuckets({ rate: limits.overall.perMinute / 60, burst: limits.overall.burst, maxKeys: 1, now });
  }

  /** How many addresses are remembered now (at most `limits.maxAddresses`, default 10,000). */
  get trackedAddresses(): number {
    return this.#perAddress.size;
  }

  /**
   * Whether `address` may not guess now: for how many whole seconds more, and whether its own wrong guesses are the
   * reason (rather than everyone's together). Undefined when it may guess.
   */
  blocked(address: string): { seconds: number; byAddress: boolean } | undefined {
    const own = this.#perAddress.wait(address);
    // Everyone's budget holds back only addresses that have guessed wrong themselves: many guessers together must not
    // lock out a person who has made no wrong guess (they cannot spend it for them).
    const overall = this.#perAddress.isFull(address) ? 0 : this.#overall.wait(OVERALL);
    const wait = Math.max(own, overall);
    return wait > 0 ? { seconds: retryAfterSeconds(wait), byAddress: own > 0 } : undefined;
  }

  /** Throws 429 BE_RATE_LIMITED (with `details.retryAfterSeconds`) while `address` may not guess. */
  assertMayTry(address: string): void {
    const blocked = this.blocked(address);
    if (!blocked) return;
    const who = blocked.byAddress ? `from your address (${address})` : 'from many addresses';
    throw new BitEnvoyError('BE_RATE_LIMITED', `too many wrong ${this.limits.what}s ${who}; try again in ${blocked.seconds} s`, {
      details: { retryAfterSeconds: blocked.seconds },
    });
  }

  /** Counts a wrong guess from `address`; logs a warning when this one used up the address's (or everyone's) budget. */
  failed(address: string, log?: Logger): void {
    this.#perAddress.spend(address);
    this.#overall.spend(OVERALL);
    if (this.blocked(address)) log?.warn({ address, what: this.limits.what }, `too many wrong ${this.limits.what}s: refusing further attempts from ${address} for a while`);
  }
}
