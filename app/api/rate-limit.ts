/**
 * Token buckets by key, for the hub's limits (agent report rates, wrong-token guesses). Memory is bounded: past
 * `maxKeys` the bucket used least recently is forgotten (which only ever makes a limit more lenient for that key).
 *
 * @example
 * const perAgent = new TokenBuckets({ rate: 200, burst: 2000 });
 * const wait = perAgent.take('ag_1', 500); // 0: taken; otherwise the seconds until 500 tokens are there
 */
export interface TokenBucketOptions {
  /** Tokens added per second. */
  rate: number;
  /** Most tokens a bucket holds (a new bucket starts full). */
  burst: number;
  /** Most keys remembered at once. */
  maxKeys?: number;
  /** Milliseconds since the epoch; tests pass a fake clock. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export const DEFAULT_MAX_KEYS = 10_000;

export class TokenBuckets {
  readonly rate: number;
  readonly burst: number;
  #maxKeys: number;
  #now: () => number;
  #buckets = new Map<string, Bucket>();

  constructor(options: TokenBucketOptions) {
    this.rate = options.rate;
    this.burst = options.burst;
    this.#maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Seconds until `cost` tokens are in `key`'s bucket; 0 when they are there now. A cost above the burst waits for
   * a full bucket (and then takes it below zero), so no single request is refused forever.
   */
  wait(key: string, cost = 1): number {
    const need = Math.min(cost, this.burst);
    const tokens = this.#refill(key).tokens;
    return tokens >= need ? 0 : (need - tokens) / this.rate;
  }

  /** Takes `cost` tokens when they are there (answers 0); otherwise takes nothing and answers {@link wait}. */
  take(key: string, cost = 1): number {
    const wait = this.wait(key, cost);
    if (wait === 0) this.#refill(key).tokens -= cost;
    return wait;
  }

  /** Takes `cost` tokens whatever is there: a bucket may go below zero, and then needs longer to fill again. */
  spend(key: string, cost = 1): void {
    this.#refill(key).tokens -= cost;
  }

  /** True when `key` has spent nothing that has not come back yet (or was never seen). Changes nothing. */
  isFull(key: string): boolean {
    const bucket = this.#buckets.get(key);
    return !bucket || bucket.tokens + ((this.#now() - bucket.at) / 1000) * this.rate >= this.burst;
  }

  /** How many keys are remembered now. */
  get size(): number {
    return this.#buckets.size;
  }

  /** The key's bucket, filled up for the time since it was last used, and marked as used most recently. */
  #refill(key: string): Bucket {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket) {
      this.#buckets.delete(key);
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
      bucket.at = now;
    } else {
      bucket = { tokens: this.burst, at: now };
      // A Map iterates in insertion order, and every use re-inserts: the first key is the least recently used.
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    this.#buckets.set(key, bucket);
    return bucket;
  }
}

/** Whole seconds for a `Retry-After` header: at least 1, rounded up. */
export function retryAfterSeconds(wait: number): number {
  return Math.max(1, Math.ceil(wait));
}
