/**
 * The hub's storage interface. Records are addressed by key (see `keys` in app/model.ts) and kept as JSON
 * documents in tables with indexed columns; named queries over those tables live in the query modules
 * (deployment-queries.ts, job-queries.ts, agent-queries.ts, audit-queries.ts) and use {@link Store.db}.
 *
 * @example
 * const store = await openStore({ dataDir: join(dataDir) });
 * await store.set(keys.agent(agent.id), agent);
 * const updated = await store.update<JobRecord>(keys.job(id), (job) => job && { ...job, state: 'claimed' });
 */
import type { SqlDatabase, SqlValue } from './sql/sql-database.js';

export interface Store {
  /** The SQL database under the store, for the named queries. */
  readonly db: SqlDatabase;
  get<T>(key: string): Promise<T | undefined>;
  /** Several keys at once, in order (one round trip per table, for reading every job of a page). */
  getMany<T>(keys: string[]): Promise<Array<T | undefined>>;
  set<T>(key: string, value: T, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Every entry whose key starts with `prefix`, in key order. */
  list<T>(prefix: string): Promise<Array<{ key: string; value: T }>>;
  /**
   * Atomic read-modify-write of one key: `fn` gets the current value and returns the new one (or `undefined` to
   * leave it unchanged). No other write interleaves — of this process or, on PostgreSQL, of another hub (the row is
   * locked). On PostgreSQL a write that lost a deadlock runs again, so `fn` only computes. Returns what is stored
   * afterwards.
   */
  update<T>(key: string, fn: (current: T | undefined) => T | undefined): Promise<T | undefined>;
  /**
   * Atomic check-then-delete of one key: deletes it only when `test` says its current value may go (under the same
   * row lock as {@link Store.update}, so no write of another hub slips in between). Returns whether it was deleted.
   */
  deleteIf<T>(key: string, test: (current: T) => boolean): Promise<boolean>;
  /**
   * Writes the records that do not exist yet, leaves existing ones alone, in a few transactions: a batch of 10,000
   * jobs starts with one set-based write, not 10,000 read-modify-writes. Returns the keys written.
   */
  insertMissing<T>(entries: Array<{ key: string; value: T }>): Promise<string[]>;
  /** Runs the statements in one transaction (e.g. a batch of heartbeats); returns the rows they changed. */
  runBatch(statements: Array<{ sql: string; params: SqlValue[] }>): Promise<number>;
  close(): Promise<void>;
}
