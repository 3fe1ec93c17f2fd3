/**
 * Keeps every discovery scope's last complete listing fresh: each scope refreshes on its own jittered interval (so a
 * hub with many scopes does not call every provider in the same second), and again right before a deployment plans
 * servers by `cloud.*` facts. A listing replaces the last good one only when it is complete; a failure keeps the old
 * one (which then ages into "unknown", see cloud-facts.ts) and backs off — for as long as the provider asked when it
 * throttled, exponentially otherwise. Last good listings are kept in the store, so a restarted hub still has them
 * (with their real age).
 *
 * @example
 * const discovery = new CloudDiscovery({ scopes, store, log, intervalMs: 5 * 60_000 });
 * await discovery.start();
 * await discovery.refreshBeforePlan(5_000); // a deployment selecting on cloud.* is about to plan
 */
import type { Logger } from '../../lib/logger.js';
import type { Store } from '../store/store.js';
import type { ScopeState } from './cloud-facts.js';
import { ThrottledError, type CloudInstance, type DiscoveryScope } from './cloud-instance.js';

const scopeKey = (id: string) => `cloud-scope:${id}`;

/** After an error that gave no hint, wait 5 s, 10 s, 20 s… but never longer than the refresh interval. */
const FIRST_BACKOFF_MS = 5_000;

interface ScopeRuntime {
  scope: DiscoveryScope;
  state: ScopeState;
  /** No call to the provider before this time (throttled, or backing off after errors). */
  notBefore: number;
  failures: number;
  running?: Promise<void>;
  timer?: NodeJS.Timeout;
}

export interface CloudDiscoveryOptions {
  scopes: Array<DiscoveryScope & Pick<ScopeState, 'account' | 'region'>>;
  store: Store;
  log: Logger;
  intervalMs: number;
  now?: () => number;
  /** 0…1; tests pin it. */
  random?: () => number;
  /**
   * Whether this replica lists the providers (see leader-lease.ts): the others read the leader's listings from the
   * store at each turn instead of calling the providers themselves. Default: always.
   */
  leading?: () => boolean;
}

export class CloudDiscovery {
  #scopes = new Map<string, ScopeRuntime>();
  #options: CloudDiscoveryOptions;
  #now: () => number;
  #random: () => number;
  #stopped = false;

  constructor(options: CloudDiscoveryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    for (const scope of options.scopes) {
      const state: ScopeState = { id: scope.id, provider: scope.provider, ...(scope.account ? { account: scope.account } : {}), ...(scope.region ? { region: scope.region } : {}) };
      this.#scopes.set(scope.id, { scope, state, notBefore: 0, failures: 0 });
    }
  }

  /** Loads the listings a previous run kept, then refreshes every scope once and keeps refreshing on the timer. */
  async start(): Promise<void> {
    for (const runtime of this.#scopes.values()) {
      const kept = await this.#options.store.get<ScopeState['lastGood']>(scopeKey(runtime.scope.id));
      if (kept) runtime.state.lastGood = kept;
    }
    await Promise.all([...this.#scopes.values()].map((runtime) => this.#refresh(runtime)));
    for (const runtime of this.#scopes.values()) this.#schedule(runtime);
  }

  stop(): void {
    this.#stopped = true;
    for (const runtime of this.#scopes.values()) clearTimeout(runtime.timer);
  }

  /** Every scope as it is now: what it covers, its last complete listing, its last error. */
  states(): ScopeState[] {
    return [...this.#scopes.values()].map((runtime) => runtime.state);
  }

  /**
   * Refreshes every scope that may be called now, waiting at most `timeoutMs`: a slow or broken provider delays a
   * plan by that much at most, and its scope's listing then simply ages as it would have.
   */
  async refreshBeforePlan(timeoutMs: number): Promise<void> {
    const all = Promise.all([...this.#scopes.values()].map((runtime) => this.#refresh(runtime)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** One refresh of a scope; joins one already running, skips one backing off. Never throws. */
  #refresh(runtime: ScopeRuntime): Promise<void> {
    if (runtime.running) return runtime.running;
    if (this.#now() < runtime.notBefore) return Promise.resolve();
    runtime.running = this.#list(runtime).finally(() => (runtime.running = undefined));
    return runtime.running;
  }

  async #list(runtime: ScopeRuntime): Promise<void> {
    const { scope, state } = runtime;
    const started = this.#now();
    let instances: CloudInstance[];
    try {
      instances = await scope.list();
    } catch (err) {
      runtime.failures++;
      const throttled = err instanceof ThrottledError;
      const wait = throttled ? err.retryAfterMs : Math.min(this.#options.intervalMs, FIRST_BACKOFF_MS * 2 ** (runtime.failures - 1));
      runtime.notBefore = this.#now() + wait;
      state.lastError = { at: new Date(this.#now()).toISOString(), message: (err as Error).message };
      this.#options.log.warn({ scope: scope.id, retryInMs: wait, throttled }, `cloud discovery: ${scope.id} failed; its last complete listing stays: ${(err as Error).message}`);
      return;
    }
    // Dated when the listing began: anything that changed during it may be missing, so it is no fresher than that.
    const lastGood = { at: new Date(started).toISOString(), instances };
    state.lastGood = lastGood;
    delete state.lastError;
    runtime.failures = 0;
    runtime.notBefore = 0;
    await this.#options.store.set(scopeKey(scope.id), lastGood);
    this.#options.log.debug({ scope: scope.id, instances: instances.length }, 'cloud discovery: listing refreshed');
  }

  /** The listing the leader kept in the store, for a replica that does not list the provider itself. */
  async #reload(runtime: ScopeRuntime): Promise<void> {
    try {
      const kept = await this.#options.store.get<ScopeState['lastGood']>(scopeKey(runtime.scope.id));
      if (kept) runtime.state.lastGood = kept;
    } catch (err) {
      this.#options.log.warn({ err, scope: runtime.scope.id }, 'cloud discovery: reading the leader\'s listing failed; the last one stays');
    }
  }

  #schedule(runtime: ScopeRuntime): void {
    if (this.#stopped) return;
    // ±20 % jitter around the interval.
    const delay = Math.round(this.#options.intervalMs * (0.8 + 0.4 * this.#random()));
    runtime.timer = setTimeout(() => {
      const turn = this.#options.leading?.() === false ? this.#reload(runtime) : this.#refresh(runtime);
      void turn.finally(() => this.#schedule(runtime));
    }, Math.max(delay, runtime.notBefore - this.#now()));
    runtime.timer.unref();
  }
}
