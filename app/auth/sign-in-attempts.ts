/**
 * The limit on failed sign-ins that are not admin-token guesses: a GitHub callback whose `state` or `code` is refused,
 * a one-time link that is unknown, used or expired. Neither secret can be guessed in practice (256 random bits); the
 * limit keeps a prober's cost and noise down, like the agents' credential limit, and a right attempt always costs
 * nothing. Starting a GitHub sign-in (which stores a `state` for 10 minutes) is limited per address too.
 *
 * @example
 * const attempts = new SignInAttempts();
 * attempts.assertMayTry(address);   // 429 while blocked
 * attempts.failed(address, log);
 */
import type { GuessLimits } from '../api/guess-limiter.js';
import { GuessLimiter } from '../api/guess-limiter.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { retryAfterSeconds, TokenBuckets } from '../api/rate-limit.js';

export const SIGN_IN_ATTEMPTS: GuessLimits = { what: 'sign-in attempt', perAddress: { burst: 10, perMinute: 10 }, overall: { burst: 200, perMinute: 200 } };

/** Sign-ins started per address: a person needs a few; a script filling the store with states gets 429. */
const STARTS = { burst: 20, perMinute: 20 };

export class SignInAttempts {
  readonly failures: GuessLimiter;
  #starts: TokenBuckets;

  constructor(limits: GuessLimits = SIGN_IN_ATTEMPTS, now: () => number = Date.now) {
    this.failures = new GuessLimiter(limits, now);
    this.#starts = new TokenBuckets({ rate: STARTS.perMinute / 60, burst: STARTS.burst, now });
  }

  /** 429 BE_RATE_LIMITED while `address` has failed too often. */
  assertMayTry(address: string): void {
    this.failures.assertMayTry(address);
  }

  failed(address: string, log?: Parameters<GuessLimiter['failed']>[1]): void {
    this.failures.failed(address, log);
  }

  /** 429 when `address` starts sign-ins faster than a person does. */
  assertMayStart(address: string): void {
    const wait = this.#starts.take(address);
    if (wait > 0) {
      const seconds = retryAfterSeconds(wait);
      throw new BitEnvoyError('BE_RATE_LIMITED', `too many sign-ins started from your address (${address}); try again in ${seconds} s`, { details: { retryAfterSeconds: seconds } });
    }
  }
}
