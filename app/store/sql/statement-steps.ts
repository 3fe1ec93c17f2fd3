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
  kind: 'get' | 'all' | 'run' | 'together';
  sql: string;
  params: SqlValue[];
  lockKey?: string;
  /** `together`: the writes to run in order, each told how many rows it changed (`sql` and `params` are unused). */
  writes?: Write[];
  /**
   * The transaction's last statement: nothing but its commit follows, which a backend may send with it (PostgreSQL,
   * one round trip fewer). The steps must end once it has run.
   */
  last?: boolean;
}

/** One write of a {@link together} step: an INSERT, UPDATE or DELETE (no RETURNING of its own). */
export interface Write {
  sql: string;
  params: SqlValue[];
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
 * Several writes whose statements need nothing from one another, run in order; returns the rows each changed. SQLite
 * runs them one by one; PostgreSQL sends them as ONE statement (a `WITH` of data-modifying parts, pg-database.ts), one
 * round trip instead of one per write. So that both agree, the writes must touch different tables: the parts of one
 * PostgreSQL statement all read the database as it was before the statement, and would not see each other's rows.
 *
 * With `last`, nothing follows in the transaction (see {@link Step.last}).
 *
 * @example
 * const [jobs, counters] = yield* together([{ sql: 'UPDATE jobs SET …', params }, { sql: 'INSERT INTO job_counts …', params }]);
 */
export function* together(writes: Write[], options: { last?: boolean } = {}): Generator<Step, number[], unknown> {
  const last = options.last ? { last: true } : {};
  if (writes.length === 1) return [((yield { kind: 'run', sql: writes[0]!.sql, params: writes[0]!.params, ...last }) as SqlRunResult).changes];
  if (writes.length === 0) return [];
  return (yield { kind: 'together', sql: '', params: [], writes, ...last }) as number[];
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
    const result =
      step.kind === 'together'
        ? step.writes!.map((w) => db.runSync(w.sql, ...w.params).changes)
        : step.kind === 'get'
          ? db.getSync(step.sql, ...step.params)
          : step.kind === 'all'
            ? db.allSync(step.sql, ...step.params)
            : db.runSync(step.sql, ...step.params);
    next = steps.next(result);
  }
  return next.value;
}

/** How a backend runs the steps that need more than a plain statement (PostgreSQL's, pg-database.ts). */
export interface AsyncStepRunner {
  /** Takes a locked step's row lock (the PostgreSQL transaction's) and returns the row. */
  lock?: (step: Step) => Promise<unknown>;
  /** Runs a {@link together} step's writes in one round trip; returns the rows each changed. */
  together?: (writes: Write[]) => Promise<number[]>;
  /** Runs a step marked {@link Step.last} (a `run` or `together`) and commits the transaction in the same round trip. */
  last?: (step: Step) => Promise<unknown>;
}

/**
 * Runs the statements one after another on an asynchronous executor. Without `runner.lock` (reads outside a
 * transaction) locked steps are plain reads; without `runner.together` a together step's writes run one by one.
 */
export async function driveAsync<T>(db: SqlExecutor, steps: Steps<T>, runner: AsyncStepRunner = {}): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    next = steps.next(await runAsync(db, next.value, runner));
  }
  return next.value;
}

async function runAsync(db: SqlExecutor, step: Step, runner: AsyncStepRunner): Promise<unknown> {
  if (step.lockKey !== undefined && runner.lock) return runner.lock(step);
  if (step.last && runner.last) return runner.last(step);
  if (step.kind === 'get') return db.get(step.sql, ...step.params);
  if (step.kind === 'all') return db.all(step.sql, ...step.params);
  if (step.kind === 'run') return db.run(step.sql, ...step.params);
  if (runner.together) return runner.together(step.writes!);
  const changes: number[] = [];
  for (const write of step.writes!) changes.push((await db.run(write.sql, ...write.params)).changes);
  return changes;
}
