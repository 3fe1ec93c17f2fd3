/**
 * "Something about this deployment changed": the in-process signal the deployment's event stream waits on (a job
 * claimed or ending, the deployment's state or description moving). It carries no data — a listener reads the
 * summary again from the store, which stays the truth — so a change made by another process is not signalled here
 * and is seen by the stream's own periodic re-read instead.
 *
 * @example
 * const stop = changes.subscribe('dep_1a2b', () => scheduleRead());
 * changes.notify('dep_1a2b'); // scheduleRead runs
 * stop();
 */
export class DeploymentChanges {
  #listeners = new Map<string, Set<() => void>>();
  #count = 0;

  /** Tells this deployment's listeners; costs one map lookup when nobody listens (the usual case). */
  notify(deploymentId: string): void {
    const listeners = this.#listeners.get(deploymentId);
    if (!listeners) return;
    for (const listener of [...listeners]) listener();
  }

  /** Calls `listener` on each change of the deployment until the returned function is called (idempotent). */
  subscribe(deploymentId: string, listener: () => void): () => void {
    // Each subscription is its own entry, even for the same function, so one unsubscribe removes exactly one.
    const entry = () => listener();
    let listeners = this.#listeners.get(deploymentId);
    if (!listeners) this.#listeners.set(deploymentId, (listeners = new Set()));
    listeners.add(entry);
    this.#count++;
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.#count--;
      listeners.delete(entry);
      if (!listeners.size && this.#listeners.get(deploymentId) === listeners) this.#listeners.delete(deploymentId);
    };
  }

  /** How many listeners are subscribed, over every deployment (open event streams hold one each). */
  get listenerCount(): number {
    return this.#count;
  }
}
