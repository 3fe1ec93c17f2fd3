import { EventEmitter } from 'node:events';

/**
 * Wakes long polls: `notify(agentId)` resolves every `waitForJob` of that agent at once. In-process only; the store
 * stays the truth, so a missed wake-up costs at most one poll interval.
 *
 * @example
 * await notifier.waitForJob(agent.id, 50_000, request.signal);
 */
export class JobNotifier {
  #events = new EventEmitter();

  constructor() {
    this.#events.setMaxListeners(0);
  }

  notify(agentId: string): void {
    this.#events.emit(agentId);
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
