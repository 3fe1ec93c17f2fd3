/**
 * The durable outbox of the GitHub side effects other than Deployment statuses (those have their own, see
 * status-reporter.ts): the GitHub Deployments the hub creates (create-deployment-effect.ts), PR command replies, the
 * 👀 reaction, the "BitEnvoy config" check run.
 *
 * Journal first, then act (the agent's outbox does the same): {@link GitHubOutbox.enqueue} writes a row to
 * `github_effects` and returns; a sender per installation sends that installation's rows oldest first, one at a
 * time (so the replies to a pull request keep their order, and a failing row holds back the ones behind it), and
 * deletes a row once GitHub took it. A failed request is retried as judge-github-failure.ts says — backoff with
 * jitter, `Retry-After`, `x-ratelimit-reset` — and a request GitHub refuses for good (404, 410, 400, 422) is dropped
 * with an error log that names the effect and what to check. Every POST or PATCH waits for a token of the
 * installation's 80-a-minute budget, shared with the status reporter (pass the same {@link PostRateLimit}).
 * {@link GitHubOutbox.start} resumes what a stopped or killed hub left in the table. A caller that needs GitHub's
 * answer (the GitHub Deployment it asked for) uses {@link GitHubOutbox.enqueueAndWait}: the same row, and a promise
 * of what its first attempt in this process came to — sent, queued for a retry, or dropped.
 *
 * An effect is one request (`route` is an Octokit route such as `POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions`)
 * or a kind, run by a function that records its progress in the row so a retry does only what is left: a sequence
 * whose later requests need an answer of the first (config-check-run.ts), or a request that must not be made twice.
 *
 * Exactly once on GitHub. A request that got no answer (a reset connection, a 5xx, a timeout) or that was in flight
 * when the hub was killed may have been taken, so the two effects GitHub would otherwise hold twice look before
 * sending again: a reply carries a hidden marker (`<!-- bitenvoy:effect <uuid> -->`, reply-effect.ts) and is not
 * posted again when the pull request already has a comment with it; a GitHub Deployment names its rollout in its
 * payload and is adopted when GitHub already lists one for that commit, environment and rollout. A reaction is
 * idempotent on GitHub; a second "BitEnvoy config" check run on the same commit replaces the first in GitHub's view.
 * (A reply queued by a release before the marker existed is still sent at least once.)
 * Hub replicas sharing a PostgreSQL store each send rows; a row is claimed (`claimed_until`) before it is sent, so two
 * replicas never send the same one; a replica that dies mid-attempt leaves a claim that runs out after the attempt's
 * deadline. A hub alone on its SQLite file drops every claim at start: whoever held one is gone.
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
import { REPLY_ROUTE, replyKind } from './reply-effect.js';

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
 * A side effect of several requests, or of one that must not be made twice. `run` gets an Octokit whose every
 * request waits for its rate-limit token, the row's params, and `progress`, which stores new params in the row: call
 * it after each request GitHub took (and before one whose answer may be lost), so a retry (or the next start) skips
 * what is done. What `run` returns is what {@link GitHubOutbox.enqueueAndWait} answers with.
 */
export interface EffectKind {
  run(octokit: OutboxOctokit, params: Record<string, unknown>, progress: (params: Record<string, unknown>) => Promise<void>): Promise<unknown>;
  /** The params to store, given those enqueued: a place to choose what must stay the same across retries (an id). */
  prepare?(params: Record<string, unknown>, now: Date): Record<string, unknown>;
  /** "the \"BitEnvoy config\" check run on acme/.bitenvoy@1a2b3c4", for logs. */
  describe(params: Record<string, unknown>): string;
  /** The App permission it needs, named as GitHub's settings page does ("Checks: write"). */
  permission: string;
}

/** What became of an effect's first attempt in the process that enqueued it. */
export type EffectOutcome =
  /** GitHub took it; `result` is what the kind's `run` returned (the answer, for a plain request). */
  | { state: 'sent'; result: unknown }
  /** Not sent yet (GitHub failed, or rows queued before it wait): it stays in the store and is retried. */
  | { state: 'queued'; reason: string }
  /** GitHub refused it for good, or the row cannot be sent: it was dropped (and logged). */
  | { state: 'dropped'; reason: string };

export interface GitHubOutboxOptions {
  store: Store;
  octokitFor: (installationId: number) => Promise<OutboxOctokit>;
  log: Logger;
  /** The 80-POSTs-a-minute budget per installation; share the status reporter's. Default: one of its own. */
  posts?: PostRateLimit;
  /** Kinds besides the built-in ones (`bitenvoy:config-check-run`, the PR reply). */
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
  last_error: string | null;
  /** Until when a sender (this hub or another replica) holds the row for an attempt. */
  claimed_until: string | null;
}

/** The routes the hub enqueues as plain requests, for logs that say what was lost and what to check. */
const ROUTES: Record<string, { describe: (p: Record<string, unknown>) => string; permission: string }> = {
  'POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions': {
    describe: (p) => `the ${String(p.content)} reaction on comment ${String(p.comment_id)} in ${String(p.owner)}/${String(p.repo)}`,
    permission: 'Issues: write',
  },
};

const INSERT = 'INSERT INTO github_effects (installation_id, route, params, created_at, attempts, next_attempt_at) VALUES (?, ?, ?, ?, 0, ?)';
const COLUMNS = 'id, installation_id, route, params, attempts, next_attempt_at, last_error, claimed_until';

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
  /** Callers of {@link enqueueAndWait} still waiting, by row id. */
  #waiters = new Map<number, { installationId: number; settle: (outcome: EffectOutcome) => void }>();
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: GitHubOutboxOptions) {
    this.#store = options.store;
    this.#octokitFor = options.octokitFor;
    this.#log = options.log;
    this.#posts = options.posts ?? new PostRateLimit({ sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()) });
    this.#kinds = { [CONFIG_CHECK_RUN_EFFECT]: configCheckRunKind, [REPLY_ROUTE]: replyKind, ...options.kinds };
    this.#backoff = { baseMs: 1000, maxMs: 300_000, ...options.retry };
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#sweepMs = options.sweepMs ?? 60_000;
  }

  /** Resumes the rows a previous run left (stopped, killed, or GitHub failing), and looks for due rows from then on. */
  async start(): Promise<void> {
    // Alone on its SQLite file, this hub is the only sender there is: claims left are a stopped or killed run's.
    if (this.#store.db.dialect === 'sqlite') await this.#store.db.run('UPDATE github_effects SET claimed_until = NULL WHERE claimed_until IS NOT NULL');
    const left = await this.#store.db.all<{ installation_id: number; n: number }>('SELECT installation_id, COUNT(*) AS n FROM github_effects GROUP BY installation_id');
    const total = left.reduce((n, r) => n + Number(r.n), 0);
    if (total) this.#log.info(`resuming ${total} GitHub side effect(s) (deployments, PR replies, reactions, check runs) the last run did not send`);
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
    const now = new Date();
    const rows = effects.map((e) => this.#prepared(e, now));
    await this.#store.runBatch([...alongside, ...rows.map((e) => ({ sql: INSERT, params: [e.installationId, e.route, JSON.stringify(e.params), now.toISOString(), now.toISOString()] }))]);
    for (const id of new Set(effects.map((e) => e.installationId))) this.#wake(id);
  }

  /**
   * Journals one effect (with `alongside`, as {@link enqueueAll}) and resolves with what its first attempt came to:
   * `sent` with GitHub's answer, or `queued` when GitHub failed, the rows before it are waiting for GitHub, or nothing
   * was heard within `waitMs` (default: the request timeout and 5 s) — the row is then retried in the background like
   * any other — or `dropped`. Throws only when the row could not be written.
   *
   * @example
   * const outcome = await outbox.enqueueAndWait({ installationId: 1, route: CREATE_DEPLOYMENT_EFFECT, params });
   * if (outcome.state === 'queued') reply(`queued: ${outcome.reason}`);
   */
  async enqueueAndWait(effect: GitHubEffect, options: { alongside?: Array<{ sql: string; params: SqlValue[] }>; waitMs?: number } = {}): Promise<EffectOutcome> {
    const now = new Date();
    const row = this.#prepared(effect, now);
    let settle!: (outcome: EffectOutcome) => void;
    const outcome = new Promise<EffectOutcome>((resolve) => (settle = resolve));
    let id: number | undefined;
    try {
      await this.#store.db.transaction(async (tx) => {
        for (const s of options.alongside ?? []) await tx.run(s.sql, ...s.params);
        const inserted = await tx.get<{ id: number }>(`${INSERT} RETURNING id`, row.installationId, row.route, JSON.stringify(row.params), now.toISOString(), now.toISOString());
        id = Number(inserted!.id);
        // Before the commit: no sender can have seen the row yet.
        this.#waiters.set(id, { installationId: row.installationId, settle });
      });
    } catch (err) {
      if (id !== undefined) this.#waiters.delete(id);
      throw err;
    }
    const rowId = id!;
    const waitMs = options.waitMs ?? this.#requestTimeoutMs + 5000;
    const timer = setTimeout(() => this.#settle(rowId, { state: 'queued', reason: `it was not sent within ${waitMs / 1000} s (GitHub is slow to answer, or the installation's 80 requests a minute are used up)` }), waitMs);
    timer.unref();
    if (this.#closed) this.#settle(rowId, { state: 'queued', reason: 'the hub is stopping; it is sent when the hub starts again' });
    else this.#wake(row.installationId);
    try {
      return await outcome;
    } finally {
      clearTimeout(timer);
    }
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
    for (const id of [...this.#waiters.keys()]) this.#settle(id, { state: 'queued', reason: 'the hub is stopping; it is sent when the hub starts again' });
  }

  /** The effect as it is stored: a known kind's `prepare` applied. */
  #prepared(effect: GitHubEffect, now: Date): GitHubEffect {
    const kind = this.#kinds[effect.route];
    if (effect.route.startsWith('bitenvoy:') && !kind) throw new BitEnvoyError('BE_INTERNAL', `unknown GitHub effect kind ${effect.route}: register it in the GitHubOutbox's \`kinds\``);
    return kind?.prepare ? { ...effect, params: kind.prepare(effect.params, now) } : effect;
  }

  #settle(rowId: number, outcome: EffectOutcome): void {
    const waiter = this.#waiters.get(rowId);
    if (!waiter) return;
    this.#waiters.delete(rowId);
    waiter.settle(outcome);
  }

  /** Tells the waiters of an installation's rows (but `except`) that their row waits behind another. */
  #settleWaiting(installationId: number, reason: string, except?: number): void {
    for (const [id, waiter] of [...this.#waiters]) if (waiter.installationId === installationId && id !== except) this.#settle(id, { state: 'queued', reason });
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
        if (this.#closed) return;
        this.#log.error({ err, installationId }, `GitHub outbox of installation ${installationId}: reading the store failed; its effects are retried in ${this.#sweepMs / 1000} s`);
        this.#settleWaiting(installationId, `the hub could not read its store (${(err as Error).message}); it is retried in ${this.#sweepMs / 1000} s`);
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
        this.#later(installationId, wait);
        const head = this.#describe(row.route, JSON.parse(row.params) as Record<string, unknown>);
        this.#settleWaiting(installationId, `GitHub has not taken ${head}, queued before it, yet${row.last_error ? ` (${row.last_error})` : ''}; it is sent after that, next try in ${Math.ceil(wait / 1000)} s`, Number(row.id));
        return;
      }
      // Claimed before it is sent, unless another hub replica holds it: then this installation's effects wait for it
      // (they keep their order) and are looked at again when that claim runs out, should its holder have died.
      const held = row.claimed_until ? Date.parse(row.claimed_until) - Date.now() : 0;
      if (held > 0 || !(await this.#claim(Number(row.id)))) {
        this.#later(installationId, Math.max(held, 200));
        return;
      }
      await this.#attempt({ ...row, id: Number(row.id), installation_id: Number(row.installation_id), attempts: Number(row.attempts) });
    }
  }

  /** Wakes this installation's sender again in `ms`. */
  #later(installationId: number, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(installationId);
      this.#wake(installationId);
    }, ms);
    timer.unref();
    this.#timers.set(installationId, timer);
  }

  /** How long an attempt owns its row: its requests' deadline, with room; renewed at each step of a kind. */
  get #claimMs(): number {
    return this.#requestTimeoutMs + 30_000;
  }

  /** Takes the row for one attempt, unless someone else holds it now (atomic: one claim wins). */
  async #claim(id: number): Promise<boolean> {
    const now = new Date().toISOString();
    const until = new Date(Date.now() + this.#claimMs).toISOString();
    return (await this.#store.db.run('UPDATE github_effects SET claimed_until = ? WHERE id = ? AND (claimed_until IS NULL OR claimed_until < ?)', until, id, now)).changes === 1;
  }

  async #attempt(row: EffectRow): Promise<void> {
    const params = JSON.parse(row.params) as Record<string, unknown>;
    let result: unknown;
    try {
      const octokit = this.#limited(await this.#octokitFor(row.installation_id), row.installation_id);
      const kind = this.#kinds[row.route];
      if (kind) result = await kind.run(octokit, params, (next) => this.#progress(row.id, next));
      else if (row.route.startsWith('bitenvoy:')) throw new BitEnvoyError('BE_INTERNAL', `unknown GitHub effect kind ${row.route} (written by another BitEnvoy release?)`);
      else result = await octokit.request(row.route, params);
    } catch (err) {
      return this.#failed(row, params, err);
    }
    try {
      await this.#store.db.run('DELETE FROM github_effects WHERE id = ?', row.id);
    } catch (err) {
      // Shutting down closes the store under a request that was still out: the next start sends it once more.
      if (!this.#closed) throw err;
    }
    this.#settle(row.id, { state: 'sent', result });
  }

  async #progress(id: number, params: Record<string, unknown>): Promise<void> {
    // Each step done renews the claim: a kind of several requests may take longer than one request's claim.
    await this.#store.db.run('UPDATE github_effects SET params = ?, claimed_until = ? WHERE id = ?', JSON.stringify(params), new Date(Date.now() + this.#claimMs).toISOString(), id);
  }

  async #failed(row: EffectRow, params: Record<string, unknown>, err: unknown): Promise<void> {
    if (this.#closed) return;
    const attempts = row.attempts + 1;
    const what = this.#describe(row.route, params);
    // A GitHub Deployment being made names its rollout: the id that follows it across replicas' logs.
    const fields = { err, effectId: row.id, effect: row.route, installationId: row.installation_id, ...(typeof params.rolloutId === 'string' ? { deploymentId: params.rolloutId } : {}) };
    // Our own error (a malformed row, an answer without the id we need): sending it again cannot help.
    const verdict = err instanceof BitEnvoyError ? { retry: false as const, reason: err.message } : judgeGitHubFailure(err, attempts, this.#backoff);
    if (!verdict.retry) {
      await this.#store.db.run('DELETE FROM github_effects WHERE id = ?', row.id);
      const refused = err instanceof BitEnvoyError ? `${what} cannot be sent` : `GitHub refused ${what}`;
      const remedy = this.#remedy(row.route, params, err);
      this.#log.error(fields, `${refused}: ${verdict.reason}. It is not sent again: ${remedy}`);
      this.#settle(row.id, { state: 'dropped', reason: `${verdict.reason}; ${remedy}` });
      return;
    }
    const next = new Date(Date.now() + verdict.delayMs).toISOString();
    await this.#store.db.run('UPDATE github_effects SET attempts = ?, next_attempt_at = ?, last_error = ?, claimed_until = NULL WHERE id = ?', attempts, next, verdict.reason.slice(0, 1000), row.id);
    this.#log.warn(fields, `could not send ${what} to GitHub: ${verdict.reason}; retrying in ${(verdict.delayMs / 1000).toFixed(1)} s (attempt ${attempts + 1}); effects of installation ${row.installation_id} queued after it wait`);
    this.#settle(row.id, { state: 'queued', reason: `${verdict.reason}; retried in ${Math.ceil(verdict.delayMs / 1000)} s` });
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
    return `GitHub found the request invalid (for a check run or a deployment: the commit may have been force-pushed away); if ${repository} and the commit still exist, report this line as a BitEnvoy bug`;
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
