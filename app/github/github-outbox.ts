/**
 * The durable outbox of the GitHub side effects other than Deployment statuses (those have their own, see
 * status-reporter.ts): PR command replies, the 👀 reaction, the "BitEnvoy config" check run.
 *
 * Journal first, then act (the agent's outbox does the same): {@link GitHubOutbox.enqueue} writes a row to
 * `github_effects` and returns; a sender per installation sends that installation's rows oldest first, one at a
 * time (so the replies to a pull request keep their order, and a failing row holds back the ones behind it), and
 * deletes a row once GitHub took it. A failed request is retried as judge-github-failure.ts says — backoff with
 * jitter, `Retry-After`, `x-ratelimit-reset` — and a request GitHub refuses for good (404, 410, 400, 422) is dropped
 * with an error log that names the effect and what to check. Every POST or PATCH waits for a token of the
 * installation's 80-a-minute budget, shared with the status reporter (pass the same {@link PostRateLimit}).
 * {@link GitHubOutbox.start} resumes what a stopped or killed hub left in the table.
 *
 * An effect is one request (`route` is an Octokit route such as `POST /repos/{owner}/{repo}/issues/{issue_number}/comments`)
 * or, for a sequence whose later requests need an answer of the first, a kind (`route` is `bitenvoy:<kind>`) run by
 * a function that records its progress in the row (see config-check-run.ts), so a retry does only what is left.
 *
 * At least once, not exactly once: a request that got no answer (a reset connection, a 5xx, a timeout) or that was
 * in flight when the hub was killed is sent again, and GitHub may then hold two identical comments. A reaction is
 * idempotent on GitHub; a second "BitEnvoy config" check run on the same commit replaces the first in GitHub's view.
 * One hub process sends a store's rows: hub replicas sharing a PostgreSQL store will need each row claimed first (a
 * lease column, as jobs have) so that two replicas never send the same one.
 *
 * @example
 * const outbox = new GitHubOutbox({ store, octokitFor, log, posts });
 * await outbox.start();
 * await outbox.enqueue(installationId, 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments', { owner, repo, issue_number: 12, body: 'done' });
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { SqlValue } from '../store/sql/sql-database.js';
import type { Store } from '../store/store.js';
import { CONFIG_CHECK_RUN_EFFECT, configCheckRunKind } from './config-check-run.js';
import { judgeGitHubFailure, withDeadline, type Backoff } from './judge-github-failure.js';
import { PostRateLimit } from './post-rate-limit.js';

/** The part of an Octokit the outbox uses. */
export interface OutboxOctokit {
  request(route: string, params: Record<string, unknown>): Promise<unknown>;
}

/** One side effect owed to GitHub. */
export interface GitHubEffect {
  installationId: number;
  /** An Octokit route (`POST /repos/{owner}/{repo}/…`) or `bitenvoy:<kind>`. */
  route: string;
  params: Record<string, unknown>;
}

/**
 * A side effect of several requests. `run` gets an Octokit whose every request waits for its rate-limit token, the
 * row's params, and `progress`, which stores new params in the row: call it after each request GitHub took, so a
 * retry (or the next start) skips what is done.
 */
export interface EffectKind {
  run(octokit: OutboxOctokit, params: Record<string, unknown>, progress: (params: Record<string, unknown>) => Promise<void>): Promise<void>;
  /** "the \"BitEnvoy config\" check run on acme/.bitenvoy@1a2b3c4", for logs. */
  describe(params: Record<string, unknown>): string;
  /** The App permission it needs, named as GitHub's settings page does ("Checks: write"). */
  permission: string;
}

export interface GitHubOutboxOptions {
  store: Store;
  octokitFor: (installationId: number) => Promise<OutboxOctokit>;
  log: Logger;
  /** The 80-POSTs-a-minute budget per installation; share the status reporter's. Default: one of its own. */
  posts?: PostRateLimit;
  /** Kinds besides the built-in ones (`bitenvoy:config-check-run`). */
  kinds?: Record<string, EffectKind>;
  /** Backoff after a failed request (default: from 1 s, doubling, at most 5 min). */
  retry?: Partial<Backoff>;
  /** A request without an answer after this long counts as failed, outcome unknown (default 30 s). */
  requestTimeoutMs?: number;
  /** How often due rows are looked for besides the wake-ups of this process (default 60 s). */
  sweepMs?: number;
}

interface EffectRow {
  id: number;
  installation_id: number;
  route: string;
  params: string;
  attempts: number;
  next_attempt_at: string;
}

/** The routes the hub enqueues, for logs that say what was lost and what to check. */
const ROUTES: Record<string, { describe: (p: Record<string, unknown>) => string; permission: string }> = {
  'POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions': {
    describe: (p) => `the ${String(p.content)} reaction on comment ${String(p.comment_id)} in ${String(p.owner)}/${String(p.repo)}`,
    permission: 'Issues: write',
  },
  'POST /repos/{owner}/{repo}/issues/{issue_number}/comments': {
    describe: (p) => `the reply in ${String(p.owner)}/${String(p.repo)}#${String(p.issue_number)}`,
    permission: 'Issues: write',
  },
};

const INSERT = 'INSERT INTO github_effects (installation_id, route, params, created_at, attempts, next_attempt_at) VALUES (?, ?, ?, ?, 0, ?)';
const COLUMNS = 'id, installation_id, route, params, attempts, next_attempt_at';

export class GitHubOutbox {
  #store: Store;
  #octokitFor: GitHubOutboxOptions['octokitFor'];
  #log: Logger;
  #posts: PostRateLimit;
  #kinds: Record<string, EffectKind>;
  #backoff: Backoff;
  #requestTimeoutMs: number;
  #sweepMs: number;
  /** The sender of each installation that has one running, and those woken while it ran. */
  #senders = new Map<number, Promise<void>>();
  #rewake = new Set<number>();
  /** Installations whose oldest row waits for its next attempt. */
  #timers = new Map<number, NodeJS.Timeout>();
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: GitHubOutboxOptions) {
    this.#store = options.store;
    this.#octokitFor = options.octokitFor;
    this.#log = options.log;
    this.#posts = options.posts ?? new PostRateLimit({ sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()) });
    this.#kinds = { [CONFIG_CHECK_RUN_EFFECT]: configCheckRunKind, ...options.kinds };
    this.#backoff = { baseMs: 1000, maxMs: 300_000, ...options.retry };
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#sweepMs = options.sweepMs ?? 60_000;
  }

  /** Resumes the rows a previous run left (stopped, killed, or GitHub failing), and looks for due rows from then on. */
  async start(): Promise<void> {
    const left = await this.#store.db.all<{ installation_id: number; n: number }>('SELECT installation_id, COUNT(*) AS n FROM github_effects GROUP BY installation_id');
    const total = left.reduce((n, r) => n + Number(r.n), 0);
    if (total) this.#log.info(`resuming ${total} GitHub side effect(s) (PR replies, reactions, check runs) the last run did not send`);
    for (const row of left) this.#wake(Number(row.installation_id));
    if (this.#closed || this.#sweep) return;
    this.#sweep = setInterval(() => void this.#sweepDue(), this.#sweepMs);
    this.#sweep.unref();
  }

  /**
   * Journals one effect; it is sent in the background.
   *
   * @example
   * await outbox.enqueue(1, 'POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions', { owner: 'acme', repo: 'app', comment_id: 7, content: 'eyes' });
   */
  enqueue(installationId: number, route: string, params: Record<string, unknown>): Promise<void> {
    return this.enqueueAll([{ installationId, route, params }]);
  }

  /**
   * Journals several effects in one transaction, with `alongside` — the caller's own statements, so the state change
   * that causes the effects and the effects are written together or not at all. Sent in this order per installation.
   */
  async enqueueAll(effects: GitHubEffect[], alongside: Array<{ sql: string; params: SqlValue[] }> = []): Promise<void> {
    const now = new Date().toISOString();
    for (const e of effects) {
      if (e.route.startsWith('bitenvoy:') && !this.#kinds[e.route]) throw new BitEnvoyError('BE_INTERNAL', `unknown GitHub effect kind ${e.route}: register it in the GitHubOutbox's \`kinds\``);
    }
    await this.#store.runBatch([...alongside, ...effects.map((e) => ({ sql: INSERT, params: [e.installationId, e.route, JSON.stringify(e.params), now, now] }))]);
    for (const id of new Set(effects.map((e) => e.installationId))) this.#wake(id);
  }

  /** Resolves when every row this process knows of was sent or given up (tests and shutdown); at once once closed. */
  async idle(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      if (this.#senders.size) await Promise.all(this.#senders.values());
      else if (this.#timers.size) await new Promise((resolve) => setTimeout(resolve, 20));
      else return;
    }
  }

  /** Stops sending; what is still owed stays in the store for the next start. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #wake(installationId: number): void {
    if (this.#closed) return;
    if (this.#senders.has(installationId)) {
      this.#rewake.add(installationId);
      return;
    }
    clearTimeout(this.#timers.get(installationId));
    this.#timers.delete(installationId);
    const sender = this.#send(installationId)
      .catch((err: unknown) => {
        if (!this.#closed) this.#log.error({ err, installationId }, `GitHub outbox of installation ${installationId}: reading the store failed; its effects are retried in ${this.#sweepMs / 1000} s`);
      })
      .finally(() => {
        this.#senders.delete(installationId);
        if (this.#rewake.delete(installationId)) this.#wake(installationId);
      });
    this.#senders.set(installationId, sender);
  }

  /** Sends the installation's rows oldest first until none is left or the oldest must wait. */
  async #send(installationId: number): Promise<void> {
    while (!this.#closed) {
      const row = await this.#store.db.get<EffectRow>(`SELECT ${COLUMNS} FROM github_effects WHERE installation_id = ? ORDER BY id LIMIT 1`, installationId);
      if (!row) return;
      const wait = Date.parse(row.next_attempt_at) - Date.now();
      if (wait > 0) {
        const timer = setTimeout(() => {
          this.#timers.delete(installationId);
          this.#wake(installationId);
        }, wait);
        timer.unref();
        this.#timers.set(installationId, timer);
        return;
      }
      await this.#attempt({ ...row, id: Number(row.id), installation_id: Number(row.installation_id), attempts: Number(row.attempts) });
    }
  }

  async #attempt(row: EffectRow): Promise<void> {
    const params = JSON.parse(row.params) as Record<string, unknown>;
    try {
      const octokit = this.#limited(await this.#octokitFor(row.installation_id), row.installation_id);
      const kind = this.#kinds[row.route];
      if (kind) await kind.run(octokit, params, (next) => this.#progress(row.id, next));
      else if (row.route.startsWith('bitenvoy:')) throw new BitEnvoyError('BE_INTERNAL', `unknown GitHub effect kind ${row.route} (written by another BitEnvoy release?)`);
      else await octokit.request(row.route, params);
    } catch (err) {
      return this.#failed(row, params, err);
    }
    try {
      await this.#store.db.run('DELETE FROM github_effects WHERE id = ?', row.id);
    } catch (err) {
      // Shutting down closes the store under a request that was still out: the next start sends it once more.
      if (!this.#closed) throw err;
    }
  }

  async #progress(id: number, params: Record<string, unknown>): Promise<void> {
    await this.#store.db.run('UPDATE github_effects SET params = ? WHERE id = ?', JSON.stringify(params), id);
  }

  async #failed(row: EffectRow, params: Record<string, unknown>, err: unknown): Promise<void> {
    if (this.#closed) return;
    const attempts = row.attempts + 1;
    const what = this.#describe(row.route, params);
    const fields = { err, effectId: row.id, effect: row.route, installationId: row.installation_id };
    // Our own error (a malformed row, an answer without the id we need): sending it again cannot help.
    const verdict = err instanceof BitEnvoyError ? { retry: false as const, reason: err.message } : judgeGitHubFailure(err, attempts, this.#backoff);
    if (!verdict.retry) {
      await this.#store.db.run('DELETE FROM github_effects WHERE id = ?', row.id);
      const refused = err instanceof BitEnvoyError ? `${what} cannot be sent` : `GitHub refused ${what}`;
      this.#log.error(fields, `${refused}: ${verdict.reason}. It is not sent again: ${this.#remedy(row.route, params, err)}`);
      return;
    }
    const next = new Date(Date.now() + verdict.delayMs).toISOString();
    await this.#store.db.run('UPDATE github_effects SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?', attempts, next, verdict.reason.slice(0, 1000), row.id);
    this.#log.warn(fields, `could not send ${what} to GitHub: ${verdict.reason}; retrying in ${(verdict.delayMs / 1000).toFixed(1)} s (attempt ${attempts + 1}); effects of installation ${row.installation_id} queued after it wait`);
  }

  #describe(route: string, params: Record<string, unknown>): string {
    return (this.#kinds[route] ?? ROUTES[route])?.describe(params) ?? `${route} on ${String(params.owner)}/${String(params.repo)}`;
  }

  #remedy(route: string, params: Record<string, unknown>, err: unknown): string {
    const status = (err as { status?: unknown }).status;
    const repository = `${String(params.owner)}/${String(params.repo)}`;
    const permission = (this.#kinds[route] ?? ROUTES[route])?.permission ?? 'the permission this request needs';
    if (err instanceof BitEnvoyError) return 'report this line as a BitEnvoy bug';
    if (status === 404 || status === 410) return `the pull request, comment or commit is gone, or the App can no longer see ${repository}: check that the App is still installed on it with "${permission}"`;
    return `GitHub found the request invalid (for a check run: the commit may have been force-pushed away); if ${repository} and the commit still exist, report this line as a BitEnvoy bug`;
  }

  /** The same Octokit, but every content-creating request waits for a token and fails after the request timeout. */
  #limited(octokit: OutboxOctokit, installationId: number): OutboxOctokit {
    return {
      request: async (route, params) => {
        if (route.startsWith('GET ')) return withDeadline(octokit.request(route, params), this.#requestTimeoutMs);
        const token = await this.#posts.take(installationId);
        if (this.#closed) {
          token.giveBack();
          throw new Error('the GitHub outbox was closed');
        }
        try {
          return await withDeadline(octokit.request(route, params), this.#requestTimeoutMs);
        } finally {
          token.done();
        }
      },
    };
  }

  /** Wakes the installations with a due row that no sender of this process is on (rows written by another process). */
  async #sweepDue(): Promise<void> {
    try {
      const due = await this.#store.db.all<{ installation_id: number }>('SELECT DISTINCT installation_id FROM github_effects WHERE next_attempt_at <= ?', new Date().toISOString());
      for (const { installation_id } of due) if (!this.#timers.has(Number(installation_id))) this.#wake(Number(installation_id));
    } catch (err) {
      if (!this.#closed) this.#log.warn({ err }, 'GitHub outbox: looking for due effects failed; trying again at the next sweep');
    }
  }

}
