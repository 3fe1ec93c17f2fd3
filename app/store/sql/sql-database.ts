/**
 * The one thing the store's SQL code talks to: run a statement, read rows, and run a function in one transaction.
 * The embedded default is node:sqlite (sqlite-database.ts); PostgreSQL (pg-database.ts) is the other implementation,
 * and the statements the store's query modules write stay portable: `?` placeholders, standard SQL, no SQLite-only
 * functions outside the SQLite migrations (where one is needed, the statement branches on `dialect`).
 *
 * @example
 * const rows = await db.all<{ key: string }>('SELECT key FROM jobs WHERE agent_id = ? LIMIT ?', agentId, 10);
 * await db.transaction(async (tx) => { await tx.run('UPDATE …'); await tx.run('INSERT …'); });
 */
import type { Steps } from './statement-steps.js';

export type SqlValue = string | number | bigint | null | Uint8Array;

/** What {@link SqlDatabase.observe} times. */
export type StoreOperation = 'read' | 'write' | 'transaction';

export interface SqlRunResult {
  changes: number;
}

export interface SqlExecutor {
  all<T>(sql: string, ...params: SqlValue[]): Promise<T[]>;
  get<T>(sql: string, ...params: SqlValue[]): Promise<T | undefined>;
  run(sql: string, ...params: SqlValue[]): Promise<SqlRunResult>;
}

export interface SqlDatabase extends SqlExecutor {
  /** `sqlite` or `postgres`: the migrations pick their DDL dialect by it. */
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Runs `fn` in one transaction that no other statement of this process interleaves with (and, on SQLite, that
   * holds the file's write lock from the start, so the CLI writing the same file waits). Commits when `fn`
   * resolves, rolls back when it throws. Nested calls run inside the outer transaction.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * Runs the statements a generator yields (statement-steps.ts) as one transaction: the store's write path, written
   * once for both backends. SQLite runs them synchronously between BEGIN and COMMIT; PostgreSQL awaits each on the
   * client that holds the transaction, and runs a transaction that lost a deadlock to another process again, from a
   * fresh generator — so `steps` only computes from what its statements return, and acts once it has resolved.
   */
  transactionSteps<T>(steps: () => Steps<T>): Promise<T>;
  /** Several statements separated by `;` (DDL in migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Told how long each statement the hub runs took (`read`: all/get; `write`: run) and each of the store's write
   * transactions (`transaction`): the metrics' store latency. Set by the hub; nothing when unset.
   */
  observe?: (operation: StoreOperation, seconds: number) => void;
  /** A server database's notifications between processes (PostgreSQL `NOTIFY`); absent on an embedded one. */
  notify?(channel: string, payload: string): Promise<void>;
  /** Listens for {@link notify} on `channel`, reconnecting by itself (`onGap` says when some may have been lost). */
  listen?(channel: string, onMessage: (payload: string) => void, onGap: (err: Error) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * The synchronous statements of an embedded database (node:sqlite). The store's write transactions use them: a
 * transaction that never yields between BEGIN and COMMIT cannot have another statement of this process land
 * inside it, and never holds the file's lock across an await (a second connection of the same process would block
 * the thread waiting for it). The store's write logic is written once (statement-steps.ts): SQLite drives it through
 * these, PostgreSQL awaits each statement on the client that holds its transaction.
 */
export interface SyncSqlExecutor {
  allSync<T>(sql: string, ...params: SqlValue[]): T[];
  getSync<T>(sql: string, ...params: SqlValue[]): T | undefined;
  runSync(sql: string, ...params: SqlValue[]): SqlRunResult;
  /** Runs `fn` in one transaction at once (after any asynchronous transaction of this process has ended). */
  transactionSync<T>(fn: () => T): Promise<T>;
}
