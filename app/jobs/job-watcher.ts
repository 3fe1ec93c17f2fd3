/**
 * Wakes this process's long polls for jobs another process created: with hub replicas on one PostgreSQL store, the
 * replica that starts a batch wakes the polls it holds itself (JobNotifier), and every other replica learns of the
 * new jobs here — from PostgreSQL's `LISTEN/NOTIFY` at once when the store offers it ({@link JobWatcher.publish}), and
 * from a re-check every second that reads the jobs created since the last one (the index on pending jobs' creation
 * time: nothing is read when nothing is new), so a lost notification delays a job by a second, never forever.
 *
 * Creation times come from the clocks of other replicas: each re-check reads back five seconds, and remembers which jobs
 * it already announced, so a job written with a slightly older time is not missed and a job is announced once. (A
 * replica whose clock is off by more than that delays its jobs to other replicas' agents until their next poll.)
 *
 * @example
 * const watcher = new JobWatcher({ store, notifier, log });
 * notifier.publish = (agentIds) => watcher.publish(agentIds);
 * await watcher.start(); // listens, and re-checks every second
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../lib/logger.js';
import type { Store } from '../store/store.js';
import type { JobNotifier } from './job-notifier.js';

/** The PostgreSQL channel replicas announce new jobs on: `<sender> <agent id>,<agent id>,…`. */
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
}

export class JobWatcher {
  #options: JobWatcherOptions;
  #now: () => number;
  /** Jobs created at or after this time (ms) are still to be looked at. */
  #since: number;
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

  /** Tells the other replicas that these agents have new jobs (made by this process); never throws. */
  publish(agentIds: readonly string[]): void {
    const { db } = this.#options.store;
    if (!db.notify) return;
    let chunk: string[] = [];
    let bytes = 0;
    const send = () => {
      if (!chunk.length) return;
      db.notify!(CHANNEL, `${this.#sender} ${chunk.join(',')}`).catch((err: unknown) =>
        this.#options.log.debug({ err }, 'announcing new jobs to other replicas failed; their re-check finds them within a second'),
      );
      chunk = [];
      bytes = 0;
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
    const [sender, list] = payload.split(' ', 2);
    if (sender === this.#sender || !list) return;
    const ids = list.split(',').filter((id) => /^ag_[A-Za-z0-9_-]{1,64}$/.test(id));
    if (ids.length) void this.#options.notifier.notifyMany(ids);
  }

  /** One re-check: wakes the agents of pending jobs created since the last one (exported for tests). */
  async check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const from = new Date(this.#since).toISOString();
      const rows = await this.#options.store.db.all<{ key: string; agent_id: string; created_at: string }>(
        "SELECT key, agent_id, created_at FROM jobs WHERE state = 'pending' AND created_at >= ? ORDER BY created_at LIMIT ?",
        from,
        PAGE,
      );
      const fresh = rows.filter((row) => !this.#announced.has(row.key));
      for (const row of fresh) this.#announced.set(row.key, Date.parse(row.created_at));
      // A full page: the next check goes on from its end; otherwise from a little before now.
      this.#since = rows.length === PAGE ? Date.parse(rows.at(-1)!.created_at) : Math.max(this.#since, this.#now() - OVERLAP_MS);
      for (const [key, at] of this.#announced) if (at < this.#since) this.#announced.delete(key);
      if (fresh.length) await this.#options.notifier.notifyMany([...new Set(fresh.map((row) => row.agent_id))]);
    } catch (err) {
      this.#options.log.warn({ err }, 'looking for jobs created by other hub replicas failed; trying again in a second');
    } finally {
      this.#checking = false;
    }
  }
}
