/**
 * {@link SqlDatabase} on PostgreSQL through a `pg.Pool`: the store shared by several hub processes. Statements keep
 * their `?` placeholders (translated to `$1…`), counts come back as numbers, a transaction runs on one client taken
 * from the pool (nested calls join it), and a write that lost a deadlock to another process is run again. Errors that
 * mean "cannot use this database" say which, and the fix (pg-connection.ts).
 *
 * @example
 * const db = await openPgDatabase({ url: 'postgres://bitenvoy@127.0.0.1:5432/bitenvoy' });
 * await db.transaction(async (tx) => tx.run('DELETE FROM kv WHERE expires < ?', Date.now()));
 * await db.close();
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { isErrorCode } from '../../../lib/errors.js';
import { explainConnectionError, pgPoolConfig, type DatabaseLocation, type DatabaseSettings } from './pg-connection.js';
import { toPgPlaceholders, withLiterals } from './pg-placeholders.js';
import type { SqlDatabase, SqlExecutor, SqlRunResult, SqlValue, StoreOperation } from './sql-database.js';
import { driveAsync, type AsyncStepRunner, type Step, type Steps, type Write } from './statement-steps.js';

/** int8 (COUNT(*), SUM of integers, BIGINT columns) and numeric: JS numbers, as SQLite gives them. */
const NUMBER_TYPES = new Set([20, 1700]);
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    NUMBER_TYPES.has(oid) && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** deadlock_detected, serialization_failure: the transaction did nothing and may simply run again. */
const RETRYABLE = ['40P01', '40001'];
const ATTEMPTS = 5;

/** A transaction in progress in this async context: nested transactions join it while it is open. */
interface OpenTransaction {
  executor: SqlExecutor;
  open: boolean;
}

/**
 * Connects (one round trip, so a wrong URL, password or database name stops the hub at start with the reason) and
 * returns the database.
 */
export async function openPgDatabase(settings: DatabaseSettings, options: { onIdleError?: (err: Error) => void } = {}): Promise<PgDatabase> {
  const { config, where } = pgPoolConfig(settings);
  const db = new PgDatabase(new pg.Pool({ ...config, types }), where, options.onIdleError, config);
  try {
    await db.get('SELECT 1');
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

export class PgDatabase implements SqlDatabase {
  readonly dialect = 'postgres' as const;
  /** Where it is, without the password: `postgres://USER@HOST:PORT/DATABASE`. */
  readonly display: string;
  #pool: pg.Pool;
  #where: DatabaseLocation;
  #transactions = new AsyncLocalStorage<OpenTransaction>();
  #closed = false;

  /** How to open a connection of its own (LISTEN holds one). */
  #config: pg.ClientConfig;
  #listeners = new Set<pg.Client>();

  constructor(pool: pg.Pool, where: DatabaseLocation, onIdleError?: (err: Error) => void, config: pg.ClientConfig = {}) {
    this.#pool = pool;
    this.#config = config;
    this.#where = where;
    this.display = where.display;
    // A connection that breaks while idle in the pool (the server restarted) must not crash the process: the pool
    // drops it, and the next statement opens a new one.
    pool.on('error', (err) => onIdleError?.(this.#explain(err)));
  }

  observe?: (operation: StoreOperation, seconds: number) => void;

  async all<T>(sql: string, ...params: SqlValue[]): Promise<T[]> {
    return (await this.#timed('read', () => this.#query(this.#pool, sql, params))).rows as T[];
  }

  async get<T>(sql: string, ...params: SqlValue[]): Promise<T | undefined> {
    return (await this.#timed('read', () => this.#query(this.#pool, sql, params))).rows[0] as T | undefined;
  }

  async run(sql: string, ...params: SqlValue[]): Promise<SqlRunResult> {
    return { changes: (await this.#timed('write', () => this.#query(this.#pool, sql, params))).rowCount ?? 0 };
  }

  /** `work()`, told to {@link observe} with how long it took (a round trip, or a whole transaction). */
  async #timed<T>(operation: StoreOperation, work: () => Promise<T>): Promise<T> {
    if (!this.observe) return work();
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.observe(operation, (performance.now() - started) / 1000);
    }
  }

  /** Several statements in one round trip (no parameters: PostgreSQL's simple protocol takes `;`-separated text). */
  async exec(sql: string): Promise<void> {
    const open = this.#open();
    if (open) {
      await open.executor.run(sql);
      return;
    }
    try {
      await this.#pool.query(sql);
    } catch (err) {
      throw this.#explain(err);
    }
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const open = this.#open();
    if (open) return fn(open.executor);
    return this.#transaction((tx) => fn(tx));
  }

  /**
   * `fn` in a transaction on a client of its own. Neither BEGIN nor COMMIT costs a round trip of its own when it need
   * not: BEGIN goes with the first statement, and `commitWith` runs a last statement with the COMMIT after it (both as
   * one simple-protocol message, see {@link #simple}); nothing may run in the transaction after that.
   */
  async #transaction<T>(fn: (tx: SqlExecutor, commitWith: (sql: string, params: SqlValue[]) => Promise<pg.QueryResult>) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw this.#explain(err);
    }
    let begun = false;
    let committed = false;
    const send = async (sql: string, params: SqlValue[], commit = false): Promise<pg.QueryResult> => {
      if (committed) throw new Error(`a statement after its transaction's commit: ${sql.slice(0, 80)}`);
      const text = begun && !commit ? undefined : withLiterals(sql, params);
      if (text === undefined) {
        if (!begun) await this.#query(client, 'BEGIN', []);
        begun = true;
        return this.#query(client, sql, params);
      }
      const first = !begun;
      begun = true;
      const result = await this.#simple(client, `${first ? 'BEGIN; ' : ''}${text}${commit ? '; COMMIT' : ''}`, first ? 1 : 0);
      committed = commit;
      return result;
    };
    const executor: SqlExecutor = {
      all: async <R>(sql: string, ...params: SqlValue[]) => (await send(sql, params)).rows as R[],
      get: async <R>(sql: string, ...params: SqlValue[]) => (await send(sql, params)).rows[0] as R | undefined,
      run: async (sql: string, ...params: SqlValue[]) => ({ changes: (await send(sql, params)).rowCount ?? 0 }),
    };
    const state: OpenTransaction = { executor, open: true };
    let broken: Error | undefined;
    // The server ending the connection between two statements (a restart) is an 'error' event on the client: without
    // a listener it would end the process. The next statement fails, the transaction with it, and the client is dropped.
    const onError = (err: Error) => void (broken ??= err);
    client.on('error', onError);
    try {
      try {
        const result = await this.#transactions.run(state, () => fn(executor, (sql, params) => send(sql, params, true)));
        if (begun && !committed) await this.#query(client, 'COMMIT', []);
        return result;
      } catch (err) {
        // Also after a failed message that held the COMMIT: its transaction is aborted (or already ended, and a
        // ROLLBACK only warns).
        if (begun && !committed) await client.query('ROLLBACK').catch((rollbackErr: unknown) => (broken = rollbackErr as Error));
        throw err;
      }
    } catch (err) {
      // A connection that failed mid-transaction is not given back to the pool for reuse.
      if (isErrorCode(err, 'BE_STORE_UNAVAILABLE')) broken ??= err;
      throw err;
    } finally {
      state.open = false;
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async transactionSteps<T>(steps: () => Steps<T>): Promise<T> {
    const open = this.#open();
    if (open) return driveAsync(open.executor, steps(), this.#runner(open.executor));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#timed('transaction', () => this.#transaction((tx, commitWith) => driveAsync(tx, steps(), this.#runner(tx, commitWith))));
      } catch (err) {
        if (attempt >= ATTEMPTS || !RETRYABLE.includes((err as { code?: string }).code ?? '')) throw err;
        // Both sides of a deadlock retrying at once would meet again: a short, random wait apart.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const client of this.#listeners) await client.end().catch(() => undefined);
    await this.#pool.end();
  }

  /** `NOTIFY channel, payload` (at most 8,000 bytes), through the pool. */
  async notify(channel: string, payload: string): Promise<void> {
    await this.#query(this.#pool, 'SELECT pg_notify(?, ?)', [channel, payload]);
  }

  /**
   * `LISTEN channel` on a connection of its own, kept open: a connection that breaks (the server restarted) is opened
   * again after 1 s, 2 s, … 30 s, and `onGap` is told, since notifications sent meanwhile are lost. Resolves once
   * listening; the returned function stops.
   */
  async listen(channel: string, onMessage: (payload: string) => void, onGap: (err: Error) => void): Promise<() => Promise<void>> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`listen: ${channel} is not a plain channel name`);
    let stopped = false;
    let current: pg.Client | undefined;
    let retry: NodeJS.Timeout | undefined;
    const open = async (): Promise<void> => {
      const client = new pg.Client(this.#config);
      let listening = false;
      client.on('notification', (message) => message.channel === channel && onMessage(message.payload ?? ''));
      client.on('error', () => undefined);
      // Only a connection that was listening starts the reopening here; a failed open is retried by its caller.
      client.on('end', () => {
        this.#listeners.delete(client);
        if (listening && !stopped && !this.#closed) reopen(new Error(`the LISTEN connection to ${this.display} ended`), 1000);
      });
      this.#listeners.add(client);
      try {
        await client.connect();
        await client.query(`LISTEN ${channel}`);
      } catch (err) {
        this.#listeners.delete(client);
        await client.end().catch(() => undefined);
        throw err;
      }
      current = client;
      listening = true;
    };
    const reopen = (err: Error, wait: number): void => {
      onGap(err);
      retry = setTimeout(() => {
        open().catch((next: unknown) => reopen(this.#explain(next), Math.min(wait * 2, 30_000)));
      }, wait);
      retry.unref();
    };
    await open();
    return async () => {
      stopped = true;
      clearTimeout(retry);
      await current?.end().catch(() => undefined);
    };
  }

  /**
   * How the store's write steps run in a transaction on `tx`: locked reads, writes sent together, and (`commitWith`,
   * not in a nested transaction) the last statement sent with the commit.
   */
  #runner(tx: SqlExecutor, commitWith?: (sql: string, params: SqlValue[]) => Promise<pg.QueryResult>): AsyncStepRunner {
    return {
      lock: (step) => this.#lockedGet(tx, step),
      together: (writes) => runTogether(tx, writes),
      ...(commitWith
        ? {
            last: async (step: Step) => {
              if (step.kind === 'together') {
                const statement = togetherStatement(step.writes!);
                return togetherCounts(step.writes!, (await commitWith(statement.sql, statement.params)).rows[0]);
              }
              const result = await commitWith(step.sql, step.params);
              return step.kind === 'run' ? { changes: result.rowCount ?? 0 } : step.kind === 'get' ? result.rows[0] : result.rows;
            },
          }
        : {}),
    };
  }

  /**
   * A key's row read `FOR UPDATE`; a key with no row yet is locked by a transaction-scoped advisory lock on its hash
   * (and read again, now that a writer that got there first has committed), so a second writer of the same new key
   * waits instead of reading "missing" too.
   */
  async #lockedGet(tx: SqlExecutor, step: Step): Promise<unknown> {
    const sql = `${step.sql} FOR UPDATE`;
    const row = await tx.get(sql, ...step.params);
    if (row) return row;
    await tx.get('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', step.lockKey!);
    return tx.get(sql, ...step.params);
  }

  /**
   * Several statements as one simple-protocol message (the store's values written into them as literals,
   * pg-placeholders.ts `withLiterals`): a transaction's BEGIN with its first statement, its last with its COMMIT. On a
   * loaded machine a round trip is most of a short statement's cost. Returns the result of statement `index`.
   */
  async #simple(client: pg.PoolClient, text: string, index: number): Promise<pg.QueryResult> {
    try {
      const results = (await client.query(text)) as unknown as pg.QueryResult | pg.QueryResult[];
      return Array.isArray(results) ? results[index]! : results;
    } catch (err) {
      throw this.#explain(err);
    }
  }

  #open(): OpenTransaction | undefined {
    const open = this.#transactions.getStore();
    return open?.open ? open : undefined;
  }

  async #query(on: pg.Pool | pg.PoolClient, sql: string, params: SqlValue[]): Promise<pg.QueryResult> {
    try {
      return await on.query(toPgPlaceholders(sql), params.map(toPgValue));
    } catch (err) {
      throw this.#explain(err);
    }
  }

  #explain(err: unknown): Error {
    return explainConnectionError(err, this.#where) ?? (err as Error);
  }
}

/**
 * Several writes as one statement, one round trip: each a data-modifying part of a `WITH`, counted in order by the
 * outer SELECT. Each part runs to its end when its count is read, so the writes (and the row locks they take) happen
 * in the order given, as they would one by one.
 *
 * @example
 * await runTogether(tx, [{ sql: 'UPDATE a SET n = ? WHERE k = ?', params: [1, 'x'] }, { sql: 'DELETE FROM b WHERE k = ?', params: ['x'] }]); // [1, 0]
 */
export async function runTogether(tx: SqlExecutor, writes: Write[]): Promise<number[]> {
  const { sql, params } = togetherStatement(writes);
  return togetherCounts(writes, await tx.get<Record<string, number>>(sql, ...params));
}

/** The one statement {@link runTogether} sends for `writes`. */
function togetherStatement(writes: Write[]): Write {
  const parts = writes.map((w, i) => `w${i} AS (${w.sql} RETURNING 1)`);
  const counts = writes.map((_, i) => `(SELECT COUNT(*) FROM w${i}) AS c${i}`);
  return { sql: `WITH ${parts.join(', ')} SELECT ${counts.join(', ')}`, params: writes.flatMap((w) => w.params) };
}

/** The rows each write changed, from the row {@link togetherStatement} answers. */
function togetherCounts(writes: Write[], row: Record<string, number> | undefined): number[] {
  return writes.map((_, i) => Number(row![`c${i}`]));
}

function toPgValue(value: SqlValue): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return value;
}
