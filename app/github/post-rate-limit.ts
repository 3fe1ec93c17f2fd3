/**
 * GitHub's secondary rate limit allows about 80 content-creating requests (POSTs) a minute per installation. Each
 * installation has a bucket of `limit` tokens; a token spent comes back `windowMs` later, so no window of that length
 * ever holds more than `limit` requests (a bucket refilled at a steady rate would allow a burst on top of it).
 * Requests wait their turn first come, first served: nothing is dropped.
 *
 * @example
 * const posts = new PostRateLimit({ sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
 * await posts.take(installationId);
 * await octokit.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', …);
 */
export class PostRateLimit {
  #limit: number;
  #windowMs: number;
  #sleep: (ms: number) => Promise<void>;
  /** When each token still out was spent, oldest first, per installation. */
  #spent = new Map<number, number[]>();
  /** The last request in line per installation: the next one waits for it. */
  #line = new Map<number, Promise<void>>();

  constructor(options: { limit?: number; windowMs?: number; sleep: (ms: number) => Promise<void> }) {
    this.#limit = options.limit ?? 80;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#sleep = options.sleep;
  }

  /** Resolves once a token of this installation is spent on the caller's request. */
  take(installationId: number): Promise<void> {
    const ahead = this.#line.get(installationId) ?? Promise.resolve();
    const mine = ahead.then(() => this.#spend(installationId));
    const done = mine.catch(() => undefined);
    this.#line.set(installationId, done);
    void done.then(() => {
      if (this.#line.get(installationId) === done) this.#line.delete(installationId);
    });
    return mine;
  }

  /** The caller did not make its request after all (it found nothing to send): the token goes back. */
  giveBack(installationId: number): void {
    this.#spent.get(installationId)?.pop();
  }

  async #spend(installationId: number): Promise<void> {
    for (;;) {
      const now = Date.now();
      const spent = (this.#spent.get(installationId) ?? []).filter((at) => at > now - this.#windowMs);
      if (spent.length < this.#limit) {
        spent.push(now);
        this.#spent.set(installationId, spent);
        return;
      }
      this.#spent.set(installationId, spent);
      await this.#sleep(spent[0]! + this.#windowMs - now);
    }
  }
}
