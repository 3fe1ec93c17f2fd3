/**
 * The cache in front of every cloud token source. Discovery asks for a bearer token on every page, so without it a
 * listing of 40 pages would sign 40 JWTs or post the client secret 40 times. The cache keeps the token until shortly
 * before it expires, lets one refresh run at a time (concurrent callers share it), and after a failure waits
 * {@link RETRY_AFTER_FAILURE_MS} before trying again, repeating the failure meanwhile, so that a broken credential
 * costs the token endpoint one request per 5 s however many scopes and pages are asking.
 *
 * The cache never logs and never puts a token into a message: tokens leave it only as the resolved value.
 *
 * @example
 * const getAccessToken = cacheAccessToken(async () => ({ token: await exchange(), expiresInMs: 3_600_000 }));
 * await getAccessToken(); // exchanges
 * await getAccessToken(); // the same token, no request
 */
import type { GetAccessToken } from './discovery-http.js';

/** A token as a source fetched it. The lifetime is relative, so the hub's clock and the provider's need not agree. */
export interface FetchedToken {
  token: string;
  expiresInMs: number;
}

/** Refresh this long before expiry at the latest (or at half the lifetime, for tokens shorter than 10 minutes). */
export const REFRESH_MARGIN_MS = 5 * 60_000;
/** After a failed refresh, calls within this time get the same failure instead of another request. */
export const RETRY_AFTER_FAILURE_MS = 5_000;
/**
 * A token this close to expiry is no longer handed out, even as a fallback: it must still be valid when the request
 * carrying it arrives, after transit and whatever drift there is between the two clocks.
 */
const EXPIRY_SAFETY_MS = 30_000;

export interface TokenCacheOptions {
  /** Milliseconds since the epoch; injected by tests to move through a token's lifetime. */
  now?: () => number;
}

interface CachedToken {
  token: string;
  /** From here on, the next call refreshes. */
  refreshAt: number;
  /** Until here, the token may still stand in when a refresh fails. */
  usableUntil: number;
}

/**
 * Wraps a token source in the cache. `fetchToken` is called only when the cached token is due for a refresh, never
 * twice at once, and at most once per {@link RETRY_AFTER_FAILURE_MS} after a failure.
 */
export function cacheAccessToken(fetchToken: () => Promise<FetchedToken>, options: TokenCacheOptions = {}): GetAccessToken {
  const cache = new TokenCache(fetchToken, options.now ?? Date.now);
  return () => cache.get();
}

class TokenCache {
  readonly #fetchToken: () => Promise<FetchedToken>;
  readonly #now: () => number;
  #current: CachedToken | undefined;
  #refreshing: Promise<string> | undefined;
  #lastFailure: { error: unknown; at: number } | undefined;

  constructor(fetchToken: () => Promise<FetchedToken>, now: () => number) {
    this.#fetchToken = fetchToken;
    this.#now = now;
  }

  get(): Promise<string> {
    const now = this.#now();
    if (this.#current && now < this.#current.refreshAt) return Promise.resolve(this.#current.token);
    // Joining the refresh under way is what makes concurrent callers cost one request.
    if (this.#refreshing) return this.#refreshing;
    const failure = this.#lastFailure;
    if (failure && now - failure.at < RETRY_AFTER_FAILURE_MS) return this.#fallback(now, failure.error);
    this.#refreshing = this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<string> {
    try {
      const fetched = await this.#fetchToken();
      this.#current = cached(fetched, this.#now());
      this.#lastFailure = undefined;
      return fetched.token;
    } catch (error) {
      // Remembered only to hold back the next attempt; the next call after the pause tries again.
      this.#lastFailure = { error, at: this.#now() };
      return this.#fallback(this.#now(), error);
    }
  }

  /**
   * A failed refresh inside the refresh window costs nothing yet: the current token is still good for minutes, and
   * the next call after the pause tries again. Only once it is about to expire does the failure reach the caller.
   */
  #fallback(now: number, error: unknown): Promise<string> {
    if (this.#current && now < this.#current.usableUntil) return Promise.resolve(this.#current.token);
    return Promise.reject(error);
  }
}

function cached(fetched: FetchedToken, now: number): CachedToken {
  const margin = Math.min(REFRESH_MARGIN_MS, fetched.expiresInMs / 2);
  const expiresAt = now + fetched.expiresInMs;
  return { token: fetched.token, refreshAt: expiresAt - margin, usableUntil: expiresAt - Math.min(EXPIRY_SAFETY_MS, margin / 2) };
}
