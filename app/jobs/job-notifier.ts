import { EventEmitter } from 'node:events';

/**
 * Wakes long polls: `notify(agentId)` resolves every `waitForJob` of that agent at once. In-process only; the store
 * stays the truth, so a missed wake-up costs at most one poll interval.
 *
 * @example
 * await notifier.waitForJob(agent.id, 50_000, request.signal);
 */
/** Long polls woken per turn of the event loop by {@link JobNotifier.notifyMany}. */
const WAKE_SLICE = 200;

export class JobNotifier {
  #events = new EventEmitter();

  constructor() {
    this.#events.setMaxListeners(0);
  }

  notify(agentId: string): void {
    this.#events.emit(agentId);
  }

  /**
   * Wakes many agents (a batch of 10,000 starting), {@link WAKE_SLICE} at a time with the event loop running between
   * slices: each woken poll reads its job and answers, and 10,000 of those in one go would hold every other request
   * (and the lease renewals) for a second or more.
   */
  async notifyMany(agentIds: readonly string[]): Promise<void> {
    for (let i = 0; i < agentIds.length; i += WAKE_SLICE) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      for (const agentId of agentIds.slice(i, i + WAKE_SLICE)) this.#events.emit(agentId);
    }
  }

  /** Resolves on a notification for `agentId`, after `ms`, or when `signal` aborts — whichever comes first. */
  waitForJob(agentId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#events.off(agentId, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#events.on(agentId, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Wakes every waiting poll (used on shutdown). */
  wakeAll(): void {
    for (const name of this.#events.eventNames()) this.#events.emit(name);
  }
}
