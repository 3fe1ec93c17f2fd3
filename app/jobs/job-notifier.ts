import { EventEmitter } from 'node:events';

/**
 * Wakes long polls: `notify(agentId)` resolves every `waitForJob` of that agent at once. In-process only; the store
 * stays the truth, so a missed wake-up costs at most one poll interval.
 *
 * @example
 * await notifier.waitForJob(agent.id, 50_000, request.signal);
 */
/** Why {@link JobNotifier.waitForJob} returned. */
export type WaitOutcome = 'woken' | 'timeout' | 'stopped';

/**
 * The end of a held long poll's connection, as a plain callback: an AbortController and its signal (an EventTarget)
 * per held poll are several times its size, and 10,000 idle agents hold one each.
 */
export class HangUp {
  hungUp = false;
  #listener: (() => void) | undefined;

  /** The agent went away: stops the wait in progress, if any, and every later one at once. */
  readonly hangUp = (): void => {
    this.hungUp = true;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  };

  /** Sets (or, with `undefined`, clears) what runs on hang-up; runs it now if the agent is already gone. */
  onHangUp(listener: (() => void) | undefined): void {
    this.#listener = listener;
    if (listener && this.hungUp) this.hangUp();
  }
}

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

  /**
   * Resolves on a notification for `agentId` (`'woken'`: a job may be there), after `ms` (`'timeout'`: none was
   * announced to this process), or when `stop` is cancelled or aborted (`'stopped'`) — whichever comes first.
   */
  waitForJob(agentId: string, ms: number, stop?: AbortSignal | HangUp): Promise<WaitOutcome> {
    return new Promise((resolve) => {
      const end = (outcome: WaitOutcome) => {
        clearTimeout(timer);
        this.#events.off(agentId, woken);
        if (stop instanceof HangUp) stop.onHangUp(undefined);
        else stop?.removeEventListener('abort', stopped);
        resolve(outcome);
      };
      const woken = () => end('woken');
      const stopped = () => end('stopped');
      const timer = setTimeout(end, ms, 'timeout');
      this.#events.on(agentId, woken);
      if (stop instanceof HangUp) stop.onHangUp(stopped);
      else stop?.addEventListener('abort', stopped, { once: true });
    });
  }

  /** Wakes every waiting poll (used on shutdown). */
  wakeAll(): void {
    for (const name of this.#events.eventNames()) this.#events.emit(name);
  }
}
