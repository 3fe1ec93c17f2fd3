/**
 * The hub's one small storage interface. Everything the hub knows goes through it, so that the embedded SQLite
 * default and a shared store for several replicas (a later issue) are interchangeable.
 *
 * @example
 * const store = await openSqliteStore({ file: join(dataDir, 'hub.sqlite') });
 * await store.set(keys.agent(agent.id), agent);
 * const updated = await store.update<JobRecord>(keys.job(id), (job) => job && { ...job, state: 'claimed' });
 */
export interface Store {
  get<T>(key: string): Promise<T | undefined>;
  /** Several keys at once, in order (one round trip, for reading every job of a deployment). */
  getMany<T>(keys: string[]): Promise<Array<T | undefined>>;
  set<T>(key: string, value: T, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Every entry whose key starts with `prefix`, in key order. */
  list<T>(prefix: string): Promise<Array<{ key: string; value: T }>>;
  /**
   * Atomic read-modify-write of one key: `fn` gets the current value and returns the new one (or `undefined` to
   * leave it unchanged). No other `update` or `set` of the same key interleaves. Returns what is stored afterwards.
   */
  update<T>(key: string, fn: (current: T | undefined) => T | undefined): Promise<T | undefined>;
  close(): Promise<void>;
}
