/**
 * GitHub's secondary rate limit allows about 80 content-creating requests (POSTs) a minute per installation. Each
 * installation has a bucket of `limit` tokens; a token comes back `windowMs` after its request was answered (GitHub
 * counted it somewhere before that), so no window of that length ever holds more than `limit` requests at GitHub —
 * a bucket refilled at a steady rate would allow a burst on top of it. Requests wait their turn first come, first
 * served: nothing is dropped.
 *
 * @example
 * const posts = new PostRateLimit({ sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
 * const token = await posts.take(installationId);
 * try { await octokit.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', …); } finally { token.done(); }
 */

/** A token spent on one request. */
export interface PostToken {
  /** The request was answered (or given up): the token comes back one window from now. */
  done(): void;
  /** The request was not made after all: the token comes back now. */
  giveBack(): void;
}

export class PostRateLimit {
  #limit: number;
  #windowMs: number;
  #sleep: (ms: number) => Promise<void>;
  /** The tokens still out per installation: when each comes back is one window after `at`. */
  #spent = new Map<number, Array<{ at: number }>>();
  /** The last request in line per installation: the next one waits for it. */
  #line = new Map<number, Promise<unknown>>();

  constructor(options: { limit?: number; windowMs?: number; sleep: (ms: number) => Promise<void> }) {
    this.#limit = options.limit ?? 80;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#sleep = options.sleep;
  }

  /** Resolves once a token of this installation is spent on the caller's request. */
  take(installationId: number): Promise<PostToken> {
    const ahead = this.#line.get(installationId) ?? Promise.resolve();
    const mine = ahead.then(() => this.#spend(installationId));
    const settled = mine.catch(() => undefined);
    this.#line.set(installationId, settled);
    void settled.then(() => {
      if (this.#line.get(installationId) === settled) this.#line.delete(installationId);
    });
    return mine;
  }

  async #spend(installationId: number): Promise<PostToken> {
    for (;;) {
      const now = Date.now();
      const out = (this.#spent.get(installationId) ?? []).filter((t) => t.at > now - this.#windowMs);
      this.#spent.set(installationId, out);
      if (out.length < this.#limit) {
        const token = { at: now };
        out.push(token);
        return {
          done: () => void (token.at = Math.max(token.at, Date.now())),
          giveBack: () => void (token.at = -Infinity),
        };
      }
      await this.#sleep(Math.min(...out.map((t) => t.at)) + this.#windowMs - now);
    }
  }
}
