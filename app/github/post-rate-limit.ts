/**
 * GitHub's secondary rate limit allows about 80 content-creating requests (POSTs) a minute per installation. Each
 * installation has a bucket of `limit` tokens; a token comes back `windowMs` after its request was answered (GitHub
 * counted it somewhere before that), so no window of that length ever holds more than `limit` requests at GitHub —
 * a bucket refilled at a steady rate would allow a burst on top of it. Requests wait their turn first come, first
 * served: nothing is dropped.
 *
 * Hub replicas share one budget per installation (GitHub counts the App's requests, whichever replica sends them):
 * with `shared`, the tokens out are a row of the store (`post-budget:<installation>`), taken and returned by atomic
 * read-modify-writes (a row lock on PostgreSQL); a token whose `done` never came expires with its window anyway.
 *
 * @example
 * const posts = new PostRateLimit({ sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
 * const token = await posts.take(installationId);
 * try { await octokit.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', …); } finally { token.done(); }
 */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';

/** A token spent on one request. */
export interface PostToken {
  /** The request was answered (or given up): the token comes back one window from now. */
  done(): void;
  /** The request was not made after all: the token comes back now. */
  giveBack(): void;
}

/** A token out, in the shared budget: who took it, and since when it counts. */
interface SharedToken {
  id: string;
  at: number;
}

export class PostRateLimit {
  #limit: number;
  #windowMs: number;
  #sleep: (ms: number) => Promise<void>;
  /** The tokens still out per installation: when each comes back is one window after `at`. */
  #spent = new Map<number, Array<{ at: number }>>();
  /** The last request in line per installation: the next one waits for it. */
  #line = new Map<number, Promise<unknown>>();
  #shared: Store | undefined;
  /** This process's tokens are named `<this>:<n>` in the shared budget. */
  #name = randomBytes(6).toString('hex');
  #count = 0;

  constructor(options: { limit?: number; windowMs?: number; sleep: (ms: number) => Promise<void>; shared?: Store }) {
    this.#limit = options.limit ?? 80;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#sleep = options.sleep;
    this.#shared = options.shared;
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
    if (this.#shared) return this.#spendShared(this.#shared, installationId);
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

  /** {@link #spend} against the budget all replicas share (see the file's comment). */
  async #spendShared(store: Store, installationId: number): Promise<PostToken> {
    const key = `post-budget:${installationId}`;
    const id = `${this.#name}:${++this.#count}`;
    for (;;) {
      const now = Date.now();
      let granted = false;
      let oldest = now;
      await store.update<SharedToken[]>(key, (current) => {
        const out = (current ?? []).filter((t) => t.at > now - this.#windowMs);
        granted = out.length < this.#limit;
        oldest = Math.min(now, ...out.map((t) => t.at));
        if (granted) return [...out, { id, at: now }];
        return out.length === current?.length ? undefined : out;
      });
      if (granted) {
        const change = (fn: (tokens: SharedToken[]) => SharedToken[]) =>
          // Not written (the store is away): the token expires with its window, as if the request had just been made.
          void store.update<SharedToken[]>(key, (tokens) => tokens && fn(tokens)).catch(() => undefined);
        return {
          done: () => change((tokens) => tokens.map((t) => (t.id === id ? { id, at: Math.max(t.at, Date.now()) } : t))),
          giveBack: () => change((tokens) => tokens.filter((t) => t.id !== id)),
        };
      }
      await this.#sleep(Math.max(10, oldest + this.#windowMs - now));
    }
  }
}
