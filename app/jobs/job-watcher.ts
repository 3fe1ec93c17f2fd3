/**
 * Wakes this process's long polls for jobs another process created: with hub replicas on one PostgreSQL store, the
 * replica that starts a batch wakes the polls it holds itself (JobNotifier), and every other replica learns of the
 * new jobs here — from PostgreSQL's `LISTEN/NOTIFY` at once when the store offers it ({@link JobWatcher.publish}), and
 * from a re-check every second that reads the jobs created since the last one (the index on pending jobs' creation
 * time: nothing is read when nothing is new), so a lost notification delays a job by a second, never forever.
 *
 * Creation times come from the clocks of other replicas: each re-check reads back five seconds, and remembers which jobs
 * it already announced, so a job written with a slightly older time is not missed and a job is announced once. (A
 * replica whose clock is off by more than that delays its jobs to other replicas' agents until their next poll.) A
 * batch's jobs share one creation time: a re-check reads them a page at a time in (creation time, key) order, so the
 * page after a full one starts where it ended.
 *
 * Notifications name the jobs (deployment, batch and agents: `jobIdFor`), and so do re-checks: the notifier counts a
 * job announced twice, or one its agent has read already, as no news (job-notifier.ts).
 *
 * @example
 * const watcher = new JobWatcher({ store, notifier, log });
 * notifier.publish = (deploymentId, batch, agentIds) => watcher.publish(deploymentId, batch, agentIds);
 * await watcher.start(); // listens, and re-checks every second
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../lib/logger.js';
import type { Store } from '../store/store.js';
import { keys } from '../model.js';
import { jobIdFor } from '../rollout/engine-context.js';
import type { AnnouncedJob, JobNotifier } from './job-notifier.js';

/**
 * The PostgreSQL channel replicas announce new jobs on: `<sender> <deployment id> <batch> <agent id>,<agent id>,…`
 * (an earlier release sent `<sender> <agent id>,…`, still understood: jobs of unknown id). A replica of an earlier
 * release does not understand the new form: during an upgrade it finds other replicas' jobs by its re-check.
 */
const CHANNEL = 'bitenvoy_jobs';

/** Bytes of agent ids per notification (PostgreSQL takes at most 8,000). */
const PAYLOAD_BYTES = 7_000;

/** How far back each re-check reads before the newest creation time it saw (clock skew between replicas). */
const OVERLAP_MS = 5_000;

/** Jobs read per re-check at most; the rest are read at the next one. */
const PAGE = 5_000;

export interface JobWatcherOptions {
  store: Store;
  notifier: JobNotifier;
  log: Logger;
  intervalMs?: number;
  now?: () => number;
  /** Jobs read per re-check at most (default {@link PAGE}). */
  pageSize?: number;
}

export class JobWatcher {
  #options: JobWatcherOptions;
  #now: () => number;
  #page: number;
  /** Jobs created after this time (ms), or at it with a key after {@link #after}, are still to be looked at. */
  #since: number;
  #after = '';
  /** Jobs already announced whose creation time is within the overlap, so they are not announced again. */
  #announced = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #checking = false;
  /** This process, in the notifications it sends (its own come back to it and are ignored). */
  #sender = randomBytes(6).toString('hex');
  #unlisten: (() => Promise<void>) | undefined;

  constructor(options: JobWatcherOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#page = options.pageSize ?? PAGE;
    this.#since = this.#now() - OVERLAP_MS;
  }

  /** Starts the re-checks and, where the store has them, listens for other replicas' notifications. */
  async start(): Promise<void> {
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs ?? 1000);
    this.#timer.unref();
    const { db } = this.#options.store;
    if (!db.listen) return;
    try {
      this.#unlisten = await db.listen(CHANNEL, (payload) => this.#heard(payload), (err) =>
        this.#options.log.warn({ err }, 'not listening for other replicas\' new jobs for now; the re-check every second finds them meanwhile'),
      );
    } catch (err) {
      this.#options.log.warn({ err }, 'cannot listen for other replicas\' new jobs; the re-check every second finds them');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#unlisten?.();
    this.#unlisten = undefined;
  }

  /** Tells the other replicas that these agents have new jobs of one batch (made by this process); never throws. */
  publish(deploymentId: string, batch: number, agentIds: readonly string[]): void {
    const { db } = this.#options.store;
    if (!db.notify) return;
    const head = `${this.#sender} ${deploymentId} ${batch} `;
    let chunk: string[] = [];
    let bytes = head.length;
    const send = () => {
      if (!chunk.length) return;
      db.notify!(CHANNEL, `${head}${chunk.join(',')}`).catch((err: unknown) =>
        this.#options.log.debug({ err }, 'announcing new jobs to other replicas failed; their re-check finds them within a second'),
      );
      chunk = [];
      bytes = head.length;
    };
    for (const id of agentIds) {
      if (bytes + id.length + 1 > PAYLOAD_BYTES) send();
      chunk.push(id);
      bytes += id.length + 1;
    }
    send();
  }

  /** Another replica's announcement: wakes the polls of those agents held here. */
  #heard(payload: string): void {
    const parts = payload.split(' ');
    if (parts[0] === this.#sender) return;
    const batch = Number(parts[2]);
    const named = parts.length === 4 && /^dep_[A-Za-z0-9_-]{1,64}$/.test(parts[1]!) && Number.isSafeInteger(batch) && batch >= 0;
    const list = named ? parts[3] : parts.length === 2 ? parts[1] : undefined;
    const ids = (list ?? '').split(',').filter((id) => /^ag_[A-Za-z0-9_-]{1,64}$/.test(id));
    const jobs = ids.map((agentId): AnnouncedJob => ({ agentId, jobId: named ? jobIdFor(parts[1]!, batch, agentId) : undefined }));
    if (jobs.length) void this.#options.notifier.announce(jobs);
  }

  /** One re-check: wakes the agents of pending jobs created since the last one (exported for tests). */
  async check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const from = new Date(this.#since).toISOString();
      const rows = await this.#options.store.db.all<{ key: string; agent_id: string; created_at: string }>(
        "SELECT key, agent_id, created_at FROM jobs WHERE state = 'pending' AND (created_at, key) > (?, ?) ORDER BY created_at, key LIMIT ?",
        from,
        this.#after,
        this.#page,
      );
      const fresh = rows.filter((row) => !this.#announced.has(row.key));
      for (const row of fresh) this.#announced.set(row.key, Date.parse(row.created_at));
      // A full page: the next check goes on after its last row; otherwise from a little before now.
      const last = rows.at(-1);
      if (rows.length === this.#page && last) {
        this.#since = Date.parse(last.created_at);
        this.#after = last.key;
      } else {
        // From the start of that time again: a batch is written in several transactions, and a job of it with a key
        // before the cursor may have committed since (those already announced are skipped below).
        this.#since = Math.max(this.#since, this.#now() - OVERLAP_MS);
        this.#after = '';
      }
      for (const [key, at] of this.#announced) if (at < this.#since) this.#announced.delete(key);
      const prefix = keys.job('');
      if (fresh.length) await this.#options.notifier.announce(fresh.map((row) => ({ agentId: row.agent_id, jobId: row.key.slice(prefix.length) })));
    } catch (err) {
      this.#options.log.warn({ err }, 'looking for jobs created by other hub replicas failed; trying again in a second');
    } finally {
      this.#checking = false;
    }
  }
}
