/**
 * The store's write path, once for both backends (statement generators, see sql/statement-steps.ts): a record
 * written with its derived columns, the job counters moved from the old state to the new one, the running totals
 * (log bytes, enrolled agents) kept in the same transaction, and a job that succeeds becomes its server's release
 * (`releases`, what it runs now) in that same transaction. On PostgreSQL the row being replaced is read under its
 * lock, so two processes writing one key take turns and the counters stay true.
 *
 * @example
 * await db.transactionSteps(() => writeDocument(JOBS, 'job:job_1', job, { cache }));
 */
import { crc32 } from 'node:zlib';
import type { DetachedCache } from './detached-cache.js';
import { AGENTS, DOCUMENT_TABLES, JOBS, LOGS, type DocumentTable } from './sql/document-tables.js';
import type { SqlDatabase, SqlValue } from './sql/sql-database.js';
import { all, get, getLocked, run, together, type Steps, type Write } from './sql/statement-steps.js';

/** The name of the running total of log bytes in `totals` (the log budget reads it instead of summing every entry). */
export const LOG_BYTES = 'log_bytes';
/** The name of the running count of enrolled agents in `totals`. */
export const AGENT_COUNT = 'agents';

/**
 * Counters and totals are kept in this many rows each (migration 9): writers of different records rarely wait on one
 * another's row lock. Readers add up at most this many rows per counter.
 */
export const COUNTER_STRIPES = 32;

/**
 * The stripe a record's counts go to: fixed per key, so one record's writes always queue on the same row, and two
 * records' writes mostly on different ones.
 *
 * @example
 * stripeOf('job:job_1a2b_0_9f'); // 0 … 31, always the same for this key
 */
export function stripeOf(key: string): number {
  return crc32(key) % COUNTER_STRIPES;
}

export interface WriteOptions {
  /** Leave an existing record alone (and return false). */
  onlyIfMissing?: boolean;
  /** The process's parsed plans: a write of an unchanged plan skips its column, a new plan is cached. */
  cache?: DetachedCache;
  /** What to do once the transaction committed (caching what was written: a rolled-back plan must not be cached). */
  afterCommit?: Array<() => void>;
  /**
   * Migration 3's move of records into their tables: leave releases, job counters and totals alone. The store has no
   * `releases` table yet and its counters are not striped yet; migrations 8 and 9 build both from the moved records.
   */
  moving?: boolean;
  /**
   * The replaced row's counted columns ({@link lockedReadColumns}) as the caller read them under the row's lock in this
   * transaction (`row` undefined: there was none, and its key is locked): the write does not read them again.
   */
  replaces?: { row: Before | undefined };
  /** The write is its transaction's last: its final statement may carry the commit (see statement-steps.ts `Step.last`). */
  last?: boolean;
}

/** What the counters need of the row a write replaces (the columns {@link lockedReadColumns} names). */
export interface Before {
  deployment_id?: string | null;
  batch?: number | null;
  state?: string | null;
  bytes?: number;
}

/** What the counters need to know of the row a write replaces, per table that has counters. */
const BEFORE_COLUMNS = new Map<DocumentTable, string>([
  [JOBS, 'deployment_id, batch, state'],
  [LOGS, 'bytes'],
  [AGENTS, 'key'],
]);

/**
 * `, <columns>` the counters need of a table's row, for a caller's own locked read of it (`store.update`), whose row
 * it then passes as {@link WriteOptions.replaces}; '' for a table without counters.
 *
 * @example
 * `SELECT key, doc${lockedReadColumns(JOBS)} FROM jobs WHERE key = ?`; // …, deployment_id, batch, state
 */
export function lockedReadColumns(table: DocumentTable): string {
  const columns = BEFORE_COLUMNS.get(table);
  return columns && columns !== 'key' ? `, ${columns}` : '';
}

function* readBefore(table: DocumentTable, key: string): Steps<Before | undefined> {
  return yield* getLocked<Before>(`SELECT ${BEFORE_COLUMNS.get(table)!} FROM ${table.table} WHERE key = ?`, key);
}

/**
 * Writes one record with its derived columns; for jobs, moves the deployment's counters from the old state to the
 * new one; for logs and agents, the running totals. With `onlyIfMissing`, an existing record is left alone (false).
 */
export function* writeDocument(table: DocumentTable, key: string, value: unknown, options: WriteOptions = {}): Steps<boolean> {
  const field = table.detached;
  const whole = value as Record<string, unknown>;
  // A detached field is written only when it changed: the same (frozen, cached) value as read means unchanged.
  const part = field ? whole[field] : undefined;
  const { [field ?? '']: _part, ...rest } = whole;
  const doc = field ? rest : whole;
  const json = JSON.stringify(doc);
  const names = Object.keys(table.columns);
  const derived = names.map((name) => table.columns[name]!(whole, key, json));
  const counted = BEFORE_COLUMNS.has(table) && !options.moving;
  if (field && !options.onlyIfMissing && part !== undefined && options.cache?.peek(key)?.value === part) {
    const { changes } = yield* run(`UPDATE ${table.table} SET doc = ?${names.map((n) => `, ${n} = ?`).join('')} WHERE key = ?`, json, ...derived, key);
    if (changes > 0) return true;
  }
  const detachedNames = field ? [field, `${field}_rev`] : [];
  const detachedValues = field ? [part === undefined ? null : JSON.stringify(part), 1] : [];
  const columns = [...names, ...detachedNames];
  const insert = `INSERT INTO ${table.table} (key, doc${columns.map((n) => `, ${n}`).join('')}) VALUES (${['?', '?', ...columns.map(() => '?')].join(', ')}) ON CONFLICT (key)`;
  const updates = [...names.map((n) => `, ${n} = excluded.${n}`), ...(field ? [`, ${field} = excluded.${field}`, `, ${field}_rev = ${table.table}.${field}_rev + 1`] : [])].join('');
  const params = [key, json, ...derived, ...detachedValues];

  const written: Written = { table, key, whole, json, derived, part };
  const upsert: Write = { sql: `${insert} DO UPDATE SET doc = excluded.doc${updates}`, params };
  // The counters need the row this write replaces: the caller's (read under its lock), or read here under its lock.
  const replacing = counted && !options.onlyIfMissing;
  let before = replacing ? options.replaces?.row : undefined;
  if (replacing && !options.replaces && table === LOGS) {
    // A log entry is nearly always new: inserting it first spares reading (and locking) a row that is not there. One
    // that is there already (a joined entry, rewritten) is read under its lock and replaced, as any other record.
    if ((yield* run(`${insert} DO NOTHING`, ...params)).changes > 0) return yield* finishWrite(written, undefined, [], options);
    before = yield* readBefore(table, key);
  } else if (replacing && !options.replaces) {
    before = yield* readBefore(table, key);
  }
  if (before) {
    // The row is there, under this transaction's lock: the upsert replaces it (one row, for sure), so it goes in one
    // round trip with the counter and release writes it entails.
    return yield* finishWrite(written, before, [upsert], options);
  }
  let changes: number;
  if (options.onlyIfMissing || counted) {
    changes = (yield* run(`${insert} DO NOTHING`, ...params)).changes;
    if (changes === 0 && !options.onlyIfMissing) {
      // A writer that does not lock keys (insertMissing) made it between our read and our insert: read it, now that
      // it has committed (the insert waited for that), and replace it as any existing record.
      before = yield* readBefore(table, key);
      changes = (yield* run(upsert.sql, ...upsert.params)).changes;
    }
  } else {
    changes = (yield* run(upsert.sql, ...upsert.params)).changes;
  }
  if (changes === 0) return false;
  return yield* finishWrite(written, before, [], options);
}

/** The record a write stores, as {@link writeDocument} prepared it. */
interface Written {
  table: DocumentTable;
  key: string;
  whole: Record<string, unknown>;
  /** The document as stored (without its detached field), and its derived columns. */
  json: string;
  derived: SqlValue[];
  part: unknown;
}

/**
 * What a write entails once its row is written (or with `first`, the row's own write, sent with them): the running
 * totals, the job counters and the release, all in one round trip; then the detached field's cache.
 */
function* finishWrite(written: Written, before: Before | undefined, first: Write[], options: WriteOptions): Steps<boolean> {
  const { table, key, whole, json, derived, part } = written;
  const field = table.detached;
  const names = Object.keys(table.columns);
  const writes = [...first];
  if (!options.moving) {
    // Shared counter rows last: their row locks are held from here to the commit, the shortest time possible.
    if (table === AGENTS && !before) writes.push(...totalWrites(AGENT_COUNT, [{ key, delta: 1 }]));
    if (table === LOGS) writes.push(...totalWrites(LOG_BYTES, [{ key, delta: json.length - Number(before?.bytes ?? 0) }]));
    if (table === JOBS) {
      const after: Before = { deployment_id: derived[names.indexOf('deployment_id')] as string | null, batch: derived[names.indexOf('batch')] as number | null, state: derived[names.indexOf('state')] as string | null };
      if (after.state === 'succeeded' && before?.state !== 'succeeded') writes.push(...releaseWrites(whole));
      if (!before || before.deployment_id !== after.deployment_id || before.batch !== after.batch || before.state !== after.state) {
        writes.push(...jobCountWrites(key, before, after));
      }
    }
  }
  // The transaction's last statement (its COMMIT may go with it) unless the detached field's revision is read after.
  // The check below cannot fail: the row was read under its lock in this transaction.
  const changes = yield* together(writes, { last: options.last === true && !(field && options.cache) });
  if (first.length && changes[0] === 0) throw new Error(`writeDocument: the locked row of ${key} was not replaced`);
  if (options.moving) return true;
  if (field && options.cache) {
    const cache = options.cache;
    cache.delete(key);
    if (part !== undefined && options.afterCommit) {
      const stored = yield* get<{ rev: number }>(`SELECT ${field}_rev AS rev FROM ${table.table} WHERE key = ?`, key);
      if (stored) options.afterCommit.push(() => cache.set(key, Number(stored.rev), part));
    }
  }
  return true;
}

/** Deletes one record, and what it counted in the job counters and running totals. */
export function* deleteDocument(table: DocumentTable, key: string, cache?: DetachedCache): Steps<boolean> {
  const before = BEFORE_COLUMNS.has(table) ? yield* readBefore(table, key) : undefined;
  const { changes } = yield* run(`DELETE FROM ${table.table} WHERE key = ?`, key);
  cache?.delete(key);
  if (changes === 0) return false;
  if (table === AGENTS) {
    yield* addToTotal(AGENT_COUNT, -1, key);
    // A removed server runs nothing the hub reports: its releases go with it.
    yield* run('DELETE FROM releases WHERE agent_id = ?', key.slice(AGENTS.prefix.length));
  }
  if (table === LOGS && before) yield* addToTotal(LOG_BYTES, -Number(before.bytes ?? 0), key);
  if (table === JOBS && before) yield* moveJobCount(key, before, undefined);
  return true;
}

/** Adds `delta` to a running total kept in the same transaction as the change it counts (`key`: the record's). */
export function* addToTotal(name: string, delta: number, key: string): Steps<void> {
  yield* addToTotalFor(name, [{ key, delta }]);
}

/**
 * Adds each record's delta to the total, in its record's stripe: one statement, stripes taken in ascending order (two
 * transactions never wait on each other in a circle).
 */
export function* addToTotalFor(name: string, changes: Array<{ key: string; delta: number }>): Steps<void> {
  yield* together(totalWrites(name, changes));
}

/** The write of {@link addToTotalFor} (none when every delta adds up to 0). */
export function totalWrites(name: string, changes: Array<{ key: string; delta: number }>): Write[] {
  const byStripe = new Map<number, number>();
  for (const { key, delta } of changes) byStripe.set(stripeOf(key), (byStripe.get(stripeOf(key)) ?? 0) + delta);
  const rows = [...byStripe].filter(([, delta]) => delta !== 0).sort(([a], [b]) => a - b);
  if (!rows.length) return [];
  return [
    {
      sql: `INSERT INTO totals (name, stripe, n) VALUES ${rows.map(() => '(?, ?, ?)').join(', ')} ON CONFLICT (name, stripe) DO UPDATE SET n = totals.n + excluded.n`,
      params: rows.flatMap(([stripe, delta]) => [name, stripe, delta]),
    },
  ];
}

/**
 * A running total now: its stripes added up.
 *
 * @example
 * await readTotal(store.db, LOG_BYTES); // 1048576
 */
export async function readTotal(db: Pick<SqlDatabase, 'get'>, name: string): Promise<number> {
  return Number((await db.get<{ n: number | null }>('SELECT SUM(n) AS n FROM totals WHERE name = ?', name))?.n ?? 0);
}

/**
 * A job leaves one counter and enters another. Counter rows are taken in one order (batch, then state) whatever the
 * direction: two processes moving jobs between the same two states in opposite directions never wait on each other
 * in a circle.
 */
function* moveJobCount(key: string, from: Before | undefined, to: Before | undefined): Steps<void> {
  yield* together(jobCountWrites(key, from, to));
}

/** The write of {@link moveJobCount} (none when neither side is counted). */
function jobCountWrites(key: string, from: Before | undefined, to: Before | undefined): Write[] {
  return jobCountWritesFor([...(from ? [{ key, job: from, delta: -1 }] : []), ...(to ? [{ key, job: to, delta: 1 }] : [])]);
}

/**
 * The counters' write for jobs entering (delta 1) or leaving (delta -1) their counters: one statement, each counter row
 * once (deltas of one row added up), in its job's stripe. Rows are taken in one order (batch, state, then stripe)
 * whatever the direction: two processes moving jobs between the same two states in opposite directions never wait on
 * each other in a circle.
 */
export function jobCountWritesFor(moves: Array<{ key: string; job: Before; delta: number }>): Write[] {
  const rows = new Map<string, { deployment: string; batch: number; state: string; stripe: number; n: number }>();
  for (const { key, job, delta } of moves) {
    if (job.deployment_id == null || job.batch == null || job.state == null) continue;
    const stripe = stripeOf(key);
    const id = `${job.deployment_id}\0${job.batch}\0${job.state}\0${stripe}`;
    const row = rows.get(id);
    if (row) row.n += delta;
    else rows.set(id, { deployment: job.deployment_id, batch: Number(job.batch), state: job.state, stripe, n: delta });
  }
  const order = [...rows.values()].filter((r) => r.n !== 0);
  order.sort((a, b) => a.batch - b.batch || (a.state < b.state ? -1 : a.state > b.state ? 1 : 0) || a.stripe - b.stripe || (a.deployment < b.deployment ? -1 : a.deployment > b.deployment ? 1 : 0));
  if (!order.length) return [];
  // One statement for every row (one round trip to PostgreSQL, not one per row); rows are taken in the order listed.
  return [
    {
      sql: `INSERT INTO job_counts (deployment_id, batch, state, stripe, n) VALUES ${order.map(() => '(?, ?, ?, ?, ?)').join(', ')} ON CONFLICT (deployment_id, batch, state, stripe) DO UPDATE SET n = job_counts.n + excluded.n`,
      params: order.flatMap((r) => [r.deployment, r.batch, r.state, r.stripe, r.n]),
    },
  ];
}

/** A job document's fields a release needs, read loosely (partial test records, records of older hubs). */
interface SucceededJob {
  agentId?: unknown;
  finishedAt?: unknown;
  spec?: { id?: unknown; deploymentId?: unknown; repository?: unknown; environment?: unknown; sha?: unknown; createdAt?: unknown };
}

/**
 * The job that just succeeded becomes its server's release for its repository and environment — unless the row
 * holds a job created later. Releases are ordered by the JOB's creation time (then its id), not by when the success
 * was reported: an agent takes its pending jobs oldest first, one at a time, so the job created later is the one its
 * server ran last. A success reported late (an agent back from a network cut, a job whose lease had run out) of an
 * older deployment therefore never overwrites the newer release. (The deployment's creation time would mostly agree,
 * but a job created later for an older deployment — retried servers — is what the server really runs.) The WHERE of
 * the upsert compares with the stored row under its lock, so two hubs recording one server at once agree.
 */
export function releaseWrites(job: SucceededJob): Write[] {
  const spec = job.spec;
  const fields = [spec?.repository, spec?.environment, job.agentId, spec?.sha, spec?.deploymentId, spec?.id, spec?.createdAt];
  if (!fields.every((f) => typeof f === 'string' && f !== '')) return [];
  const at = typeof job.finishedAt === 'string' ? job.finishedAt : (spec!.createdAt as string);
  return [
    {
      sql: `INSERT INTO releases (repository, environment, agent_id, sha, deployment_id, job_id, job_created_at, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (repository, environment, agent_id) DO UPDATE SET sha = excluded.sha, deployment_id = excluded.deployment_id, job_id = excluded.job_id,
       job_created_at = excluded.job_created_at, at = excluded.at
     WHERE excluded.job_created_at > releases.job_created_at OR (excluded.job_created_at = releases.job_created_at AND excluded.job_id >= releases.job_id)`,
      params: [...(fields as string[]), at],
    },
  ];
}

/** A statement of {@link runStatements}: the caller's own SQL (a batch of heartbeats, an outbox insert). */
export interface Statement {
  sql: string;
  params: SqlValue[];
}

/** Runs the statements in order; returns the rows they changed. */
export function* runStatements(statements: Statement[]): Steps<number> {
  let changed = 0;
  for (const { sql, params } of statements) changed += (yield* run(sql, ...params)).changes;
  return changed;
}

/**
 * Migration 3's mover: every kv row whose key belongs to a table is written there through the same path as new
 * records (derived columns, counters), then removed from kv. Keyv kept each value as `{ value, expires? }`.
 */
export function* moveKvRecords(): Steps<void> {
  for (const table of DOCUMENT_TABLES) {
    const rows = yield* all<{ key: string; value: string }>('SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key', table.prefix, `${table.prefix}\uffff`);
    for (const row of rows) {
      const wrapped = JSON.parse(row.value) as { value?: unknown };
      if (wrapped.value !== undefined) yield* writeDocument(table, row.key, wrapped.value, { moving: true });
    }
    yield* run('DELETE FROM kv WHERE key >= ? AND key < ?', table.prefix, `${table.prefix}\uffff`);
  }
}
