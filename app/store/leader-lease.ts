/**
 * Which hub replica runs the periodic work — lease expiry, pause timers and rollout deadlines, retention, cloud
 * discovery, the sweeps that resume GitHub effects — so that it runs once fleet-wide, not once per replica.
 *
 * A lease row in the store (`leader:hub`, keyv's table, so no schema of its own): `{ holder, until }`. The holder
 * renews it every third of the lease; another replica takes it once `until` has passed, so a dead leader is replaced
 * within `BITENVOY_LEADER_LEASE_SECONDS`. A holder counts itself leader only while its last renewal is fresh, with a
 * margin against clock skew, and says so (`onChange`, the log, the `bitenvoy_leader` gauge) at its next tick when
 * renewals stopped succeeding (the store went away), not only when a renewal finds another holder. Renewals are
 * atomic read-modify-writes of the row (store.update: a row lock on PostgreSQL). Every job it guards is idempotent
 * (they all re-read the store), so the brief overlap a paused process can cause does no harm.
 *
 * One hub on its SQLite file is alone by construction (`alone`): it leads from the start, and no row is written.
 *
 * @example
 * const leader = new LeaderLease({ store, leaseMs: 10_000, log });
 * await leader.start();
 * setInterval(() => leader.leading && void sweep(), 1000);
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../../lib/logger.js';
import type { Store } from './store.js';

export const LEADER_KEY = 'leader:hub';

export interface LeaseRow {
  holder: string;
  /** ISO time the lease runs out unless renewed. */
  until: string;
}

export interface LeaderLeaseOptions {
  store: Store;
  leaseMs: number;
  log: Logger;
  now?: () => number;
  /** Called when this process starts or stops leading (metrics, logs). */
  onChange?: (leading: boolean) => void;
  /** The only hub on its store (SQLite): it always leads. */
  alone?: boolean;
}

export class LeaderLease {
  /** This process, as the row names it: host, pid and a random part (a restarted process is a new holder). */
  readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  #options: LeaderLeaseOptions;
  #now: () => number;
  /** Until when this process may act as leader (its own clock, with the margin taken off); 0 when not leading. */
  #leadingUntil = 0;
  #alone: boolean;
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;
  /** What onChange last said: whether this process leads. */
  #reported = false;

  constructor(options: LeaderLeaseOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#alone = options.alone ?? false;
  }

  get leading(): boolean {
    return this.#alone || this.#now() < this.#leadingUntil;
  }

  /**
   * Tries to take or renew the lease once, then keeps renewing every third of it. Resolves to whether the lease was
   * free when this process started — held by nobody, or run out — which means no replica ran the periodic work
   * meanwhile (the whole fleet was down, or the last leader died).
   */
  async start(): Promise<{ wasFree: boolean }> {
    if (this.#alone) {
      this.#reported = true;
      this.#options.onChange?.(true);
      return { wasFree: true };
    }
    const wasFree = await this.#renew();
    this.#timer = setInterval(() => void this.#renewOnce(), Math.max(100, Math.floor(this.#options.leaseMs / 3)));
    this.#timer.unref();
    return { wasFree };
  }

  /** Stops renewing and hands the lease back at once (another replica takes it at its next renewal). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#alone) return;
    await this.#renewing;
    const wasLeading = this.#reported;
    this.#leadingUntil = 0;
    this.#reported = false;
    await this.#options.store
      .update<LeaseRow>(LEADER_KEY, (row) => (row?.holder === this.holder ? { holder: this.holder, until: new Date(0).toISOString() } : undefined))
      .catch((err: unknown) => this.#options.log.warn({ err }, 'leader lease: handing it back failed; another replica takes it when it runs out'));
    if (wasLeading) this.#options.onChange?.(false);
  }

  /** One take-or-renew now (the timer does it every third of the lease); resolves when it is written. */
  async renewNow(): Promise<void> {
    this.#renewOnce();
    await this.#renewing;
  }

  #renewOnce(): void {
    // A lease that ran out while renewals failed or hung (the store went away): said here, at the next tick.
    this.#notice(() => 'no longer leading: the lease ran out before this replica could renew it (the store does not answer); another replica takes over');
    this.#renewing ??= this.#renew()
      .then(() => undefined)
      .catch((err: unknown) => {
        // The store did not answer: stop leading when the lease runs out (leading says so by itself).
        this.#options.log.warn({ err }, 'leader lease: renewing failed; this replica stops leading when its lease runs out');
      })
      .finally(() => (this.#renewing = undefined));
  }

  /** One take-or-renew; returns whether the row was free before. */
  async #renew(): Promise<boolean> {
    const { store, leaseMs } = this.#options;
    const started = this.#now();
    let free = false;
    const row = await store.update<LeaseRow>(LEADER_KEY, (current) => {
      const now = this.#now();
      free = !current || Date.parse(current.until) <= now;
      if (current && current.holder !== this.holder && !free) return undefined;
      return { holder: this.holder, until: new Date(now + leaseMs).toISOString() };
    });
    // Counted from before the write (its time is not ours to spend), less a margin for the clocks of other replicas.
    this.#leadingUntil = row?.holder === this.holder ? started + leaseMs - Math.min(1000, leaseMs / 5) : 0;
    this.#notice(() => (row?.holder === this.holder ? 'no longer leading: renewing the lease took longer than the lease (the store is slow); trying again' : `no longer leading: ${row?.holder ?? 'another replica'} holds the lease`));
    return free;
  }

  /** Tells onChange and the log when `leading` differs from what they were last told; `why` explains a loss. */
  #notice(why: () => string): void {
    const leading = this.leading;
    if (leading === this.#reported) return;
    this.#reported = leading;
    this.#options.log.info({ holder: this.holder }, leading ? 'leading: this replica now runs the periodic work (lease expiry, retention, discovery, sweeps)' : why());
    this.#options.onChange?.(leading);
  }
}
