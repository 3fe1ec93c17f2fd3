/**
 * {@link SqlDatabase} on Node's built-in `node:sqlite` (no native addon). One connection per process: a
 * transaction holds it, so every other statement of this process waits for the commit instead of landing inside
 * someone else's transaction. WAL mode and a busy timeout let the CLI write into the same file while the hub runs.
 *
 * @example
 * const db = openSqliteDatabase('/var/lib/bitenvoy/hub.sqlite');
 * await db.transaction(async (tx) => tx.run('DELETE FROM kv WHERE expires < ?', Date.now()));
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { SqlDatabase, SqlExecutor, SqlRunResult, SqlValue, StoreOperation, SyncSqlExecutor } from './sql-database.js';
import { driveSync, type Steps } from './statement-steps.js';

export function openSqliteDatabase(file: string): SqliteDatabase {
  mkdirSync(dirname(file), { recursive: true });
  return new SqliteDatabase(new DatabaseSync(file));
}

export class SqliteDatabase implements SqlDatabase, SyncSqlExecutor {
  readonly dialect = 'sqlite' as const;
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  /** Set while a transaction holds the connection; others wait for it. */
  #held: Promise<void> | undefined;
  #direct: SqlExecutor;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#db.exec('PRAGMA busy_timeout = 5000');
    // Pages freed by pruning go back to the file system (retention.ts runs `incremental_vacuum`). A new file gets the
    // mode before its first table; a file of an older release is rewritten once (VACUUM) to take it.
    const mode = (this.#db.prepare('PRAGMA auto_vacuum').get() as { auto_vacuum: number }).auto_vacuum;
    if (Number(mode) !== 2) {
      this.#db.exec('PRAGMA auto_vacuum = INCREMENTAL');
      const tables = (this.#db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n;
      if (Number(tables) > 0) this.#db.exec('VACUUM');
    }
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
    `);
    this.#direct = {
      all: async <T>(sql: string, ...params: SqlValue[]) => this.allSync<T>(sql, ...params),
      get: async <T>(sql: string, ...params: SqlValue[]) => this.getSync<T>(sql, ...params),
      run: async (sql: string, ...params: SqlValue[]) => this.runSync(sql, ...params),
    };
  }

  observe?: (operation: StoreOperation, seconds: number) => void;

  async all<T>(sql: string, ...params: SqlValue[]): Promise<T[]> {
    while (this.#held) await this.#held;
    return this.#timed('read', () => this.allSync<T>(sql, ...params));
  }

  async get<T>(sql: string, ...params: SqlValue[]): Promise<T | undefined> {
    while (this.#held) await this.#held;
    return this.#timed('read', () => this.getSync<T>(sql, ...params));
  }

  async run(sql: string, ...params: SqlValue[]): Promise<SqlRunResult> {
    while (this.#held) await this.#held;
    return this.#timed('write', () => this.runSync(sql, ...params));
  }

  /** `fn()`, told to {@link observe} with how long it took. */
  #timed<T>(operation: StoreOperation, fn: () => T): T {
    if (!this.observe) return fn();
    const started = performance.now();
    try {
      return fn();
    } finally {
      this.observe(operation, (performance.now() - started) / 1000);
    }
  }

  async exec(sql: string): Promise<void> {
    while (this.#held) await this.#held;
    this.#db.exec(sql);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    while (this.#held) await this.#held;
    let release!: () => void;
    this.#held = new Promise<void>((resolve) => (release = resolve));
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.#direct);
        this.#db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.#held = undefined;
      release();
    }
  }

  /**
   * Runs a synchronous `fn` as one transaction at once when the connection is free (no promise in between, so
   * nothing else of this process can run inside it); waits for a transaction in progress first.
   */
  async transactionSync<T>(fn: () => T): Promise<T> {
    while (this.#held) await this.#held;
    return this.#timed('transaction', () => this.#inTransaction(fn));
  }

  #inTransaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  /** The store's write path: the statements run synchronously, in one transaction that nothing else interleaves. */
  transactionSteps<T>(steps: () => Steps<T>): Promise<T> {
    return this.transactionSync(() => driveSync(this, steps()));
  }

  /** Synchronous access for code already inside {@link transactionSync} (or that knows no transaction is open). */
  allSync<T>(sql: string, ...params: SqlValue[]): T[] {
    return this.#prepare(sql).all(...params) as T[];
  }

  getSync<T>(sql: string, ...params: SqlValue[]): T | undefined {
    return this.#prepare(sql).get(...params) as T | undefined;
  }

  runSync(sql: string, ...params: SqlValue[]): SqlRunResult {
    return { changes: Number(this.#prepare(sql).run(...params).changes) };
  }

  async close(): Promise<void> {
    while (this.#held) await this.#held;
    if (this.#db.isOpen) this.#db.close();
    this.#statements.clear();
  }

  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
