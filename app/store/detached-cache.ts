/**
 * A deployment's plan (its batches: every server of a large rollout) is kept out of the small record in its own column
 * with a revision, and parsed once per process: this cache holds the parsed plans by key, valid while the row's
 * `<field>_rev` is the same. Revisions only grow, in every process writing the store, so a cached plan is never
 * mistaken for a newer one.
 *
 * @example
 * const cache = new DetachedCache();
 * cache.set('deployment:dep_1', 3, batches);
 * cache.get('deployment:dep_1', 3); // batches (frozen); cache.get('deployment:dep_1', 4) → undefined
 */

/** Plans (detached fields) kept parsed in this process, at most this many. */
const DETACHED_CACHE = 64;

export class DetachedCache {
  #entries = new Map<string, { rev: number; value: unknown }>();

  get(key: string, rev: number): unknown {
    const entry = this.#entries.get(key);
    if (!entry || entry.rev !== rev) return undefined;
    // Most recently used last: the oldest is evicted first.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** The cached value whatever its revision (a write compares against it by reference). */
  peek(key: string): { rev: number; value: unknown } | undefined {
    return this.#entries.get(key);
  }

  set(key: string, rev: number, value: unknown): void {
    this.#entries.delete(key);
    this.#entries.set(key, { rev, value: deepFreeze(value) });
    if (this.#entries.size > DETACHED_CACHE) this.#entries.delete(this.#entries.keys().next().value!);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}

/** Frozen, so that a value shared by every reader of this process cannot be changed by one of them. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
