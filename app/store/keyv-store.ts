/**
 * The hub's {@link Store} on keyv. Reads and writes go through a `Keyv` instance (so another keyv backend can be
 * put behind it); `update` is atomic per key within this process, and across processes when the backend offers
 * transactions (the SQLite one does).
 */
import { Keyv, KeyvBridgeAdapter } from 'keyv';
import type { Store } from './store.js';
import type { SqliteKeyvStore } from './sqlite-keyv-adapter.js';

export class KeyvStore implements Store {
  #keyv: Keyv;
  #backend: SqliteKeyvStore;
  #locks = new Map<string, Promise<unknown>>();

  constructor(backend: SqliteKeyvStore) {
    this.#backend = backend;
    this.#keyv = new Keyv({ store: new KeyvBridgeAdapter(backend), serialization: false, namespace: '' });
  }

  async get<T>(key: string): Promise<T | undefined> {
    return (await this.#keyv.get(key)) as T | undefined;
  }

  async getMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    // Straight to the backend: keyv's per-key hooks cost more than the read itself when a rollout has many jobs.
    return keys.map((key) => (this.#backend.getSync(key) as { value: T } | undefined)?.value);
  }

  async set<T>(key: string, value: T, ttlMs?: number): Promise<void> {
    await this.#withLock(key, () => this.#keyv.set(key, value, ttlMs));
  }

  async delete(key: string): Promise<boolean> {
    return this.#withLock(key, () => this.#keyv.delete(key));
  }

  async list<T>(prefix: string): Promise<Array<{ key: string; value: T }>> {
    // Keyv keeps each value wrapped as `{ value, expires? }`.
    return this.#backend.listPrefix(prefix).map(({ key, value }) => ({ key, value: (value as { value: T }).value }));
  }

  async update<T>(key: string, fn: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    return this.#withLock(key, async () =>
      this.#backend.transaction(() => {
        const current = (this.#backend.getSync(key) as { value: T } | undefined)?.value;
        const next = fn(current === undefined ? undefined : structuredClone(current));
        if (next === undefined) return current;
        this.#backend.setSync(key, { value: next });
        return next;
      }),
    );
  }

  async close(): Promise<void> {
    await this.#backend.disconnect();
  }

  /** Serialises operations on one key in this process. */
  async #withLock<R>(key: string, fn: () => Promise<R> | R): Promise<R> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(() => undefined, () => undefined);
    this.#locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    }
  }
}
