/**
 * The store's write logic, written once for both backends: a generator `yield`s each statement it needs and gets its
 * result back, and a driver runs the statements — synchronously on SQLite (inside one `BEGIN … COMMIT` that never
 * yields to the event loop, which is what keeps SQLite's writes fast and non-interleaving), or awaiting each one on
 * PostgreSQL (on the one client that holds the transaction).
 *
 * @example
 * function* rename(key: string, name: string): Steps<boolean> {
 *   const row = yield* getLocked<{ doc: string }>('SELECT doc FROM agents WHERE key = ?', key);
 *   if (!row) return false;
 *   return (yield* run('UPDATE agents SET name = ? WHERE key = ?', name, key)).changes > 0;
 * }
 * await db.transactionSteps(() => rename('agent:ag_1', 'web-2'));
 */
import type { SqlExecutor, SqlRunResult, SqlValue, SyncSqlExecutor } from './sql-database.js';

/**
 * One statement to run. `locked` (a read of one row by its key, `lockKey` its key): on PostgreSQL the row is read
 * `FOR UPDATE`, and when it does not exist yet a transaction lock on the key is taken and the row read again, so two
 * processes writing the same key (even a new one) take turns. SQLite's write transaction already excludes every other
 * writer: there it is a plain read.
 */
export interface Step {
  kind: 'get' | 'all' | 'run';
  sql: string;
  params: SqlValue[];
  lockKey?: string;
}

/** A generator of statements that returns `T` once it has all it needs. */
export type Steps<T> = Generator<Step, T, unknown>;

export function* get<T>(sql: string, ...params: SqlValue[]): Generator<Step, T | undefined, unknown> {
  return (yield { kind: 'get', sql, params }) as T | undefined;
}

export function* all<T>(sql: string, ...params: SqlValue[]): Generator<Step, T[], unknown> {
  return (yield { kind: 'all', sql, params }) as T[];
}

export function* run(sql: string, ...params: SqlValue[]): Generator<Step, SqlRunResult, unknown> {
  return (yield { kind: 'run', sql, params }) as SqlRunResult;
}

/**
 * The row of `key`, read so that no other transaction writes that key until this one ends (see {@link Step}). `sql`
 * is a `SELECT … WHERE key = ?` of one table, `key` its only parameter.
 */
export function* getLocked<T>(sql: string, key: string): Generator<Step, T | undefined, unknown> {
  return (yield { kind: 'get', sql, params: [key], lockKey: key }) as T | undefined;
}

/** Runs the statements synchronously: the caller holds SQLite's write transaction. */
export function driveSync<T>(db: SyncSqlExecutor, steps: Steps<T>): T {
  let next = steps.next();
  while (!next.done) {
    const step = next.value;
    const result = step.kind === 'get' ? db.getSync(step.sql, ...step.params) : step.kind === 'all' ? db.allSync(step.sql, ...step.params) : db.runSync(step.sql, ...step.params);
    next = steps.next(result);
  }
  return next.value;
}

/**
 * Runs the statements one after another on an asynchronous executor. `lock` takes a locked step's row lock (the
 * PostgreSQL transaction's); without it (reads outside a transaction) locked steps are plain reads.
 */
export async function driveAsync<T>(db: SqlExecutor, steps: Steps<T>, lock?: (step: Step) => Promise<unknown>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    const step = next.value;
    const result = step.lockKey !== undefined && lock ? await lock(step) : step.kind === 'get' ? await db.get(step.sql, ...step.params) : step.kind === 'all' ? await db.all(step.sql, ...step.params) : await db.run(step.sql, ...step.params);
    next = steps.next(result);
  }
  return next.value;
}
