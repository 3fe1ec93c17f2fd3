/**
 * The hub's {@link Store} on SQL: records live in their own tables with derived, indexed columns
 * (sql/document-tables.ts), job state changes keep per-deployment counters in the same transaction, and every other
 * key (nonces, sessions, dedupe keys, caches: short-lived keyed data with expiry) goes to keyv's `kv` table on the
 * same database. Named queries over the tables live in the query modules (deployment-queries.ts, job-queries.ts,
 * agent-queries.ts, audit-queries.ts), which use {@link SqlStore.db}.
 *
 * @example
 * const store = await openStore({ dataDir });
 * await store.update<JobRecord>(keys.job(id), (job) => job && { ...job, state: 'claimed' });
 */
import { Keyv, KeyvBridgeAdapter } from 'keyv';
import type { Store } from './store.js';
import { SqlKeyvAdapter } from './sqlite-keyv-adapter.js';
import { AGENTS, DOCUMENT_TABLES, JOBS, LOGS, tableOf, type DocumentTable } from './sql/document-tables.js';
import type { SqlDatabase, SqlValue, SyncSqlExecutor } from './sql/sql-database.js';

/** Rows per `IN (…)` list: well under SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 500;

/** Plans (detached fields) kept parsed in this process, at most this many. */
const DETACHED_CACHE = 64;

interface DocRow {
  key: string;
  doc: string;
  rev?: number | null;
}

/** Detached fields parsed once per process, by key, valid while the row's `<field>_rev` is the same. */
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

interface JobCountKey {
  deployment_id: string | null;
  batch: number | null;
  state: string | null;
}

export class SqlStore implements Store {
  /** The database, for the query modules (and its synchronous statements, for retention's batch deletes). */
  readonly db: SqlDatabase & SyncSqlExecutor;
  /**
   * The same database's synchronous statements: every write transaction runs without yielding between BEGIN and
   * COMMIT, so nothing of this process can run inside it, and a second connection of this process (a second hub on
   * the same file in a test, the CLI in-process) never waits on a lock held across an await.
   */
  #sync: SyncSqlExecutor;
  #keyv: Keyv;
  #kv: SqlKeyvAdapter;
  #detached = new DetachedCache();

  constructor(db: SqlDatabase & SyncSqlExecutor) {
    this.db = db;
    this.#sync = db;
    this.#kv = new SqlKeyvAdapter(db);
    this.#keyv = new Keyv({ store: new KeyvBridgeAdapter(this.#kv), serialization: false, namespace: '' });
  }

  async get<T>(key: string): Promise<T | undefined> {
    const table = tableOf(key);
    if (!table) return (await this.#keyv.get(key)) as T | undefined;
    const row = await this.db.get<DocRow>(`SELECT key, doc${revColumn(table)} FROM ${table.table} WHERE key = ?`, key);
    return row ? (this.#records(table, [row])[0] as T) : undefined;
  }

  async getMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    const found = new Map<string, unknown>();
    const byTable = new Map<DocumentTable | undefined, string[]>();
    for (const key of keys) {
      const table = tableOf(key);
      byTable.set(table, [...(byTable.get(table) ?? []), key]);
    }
    for (const [table, tableKeys] of byTable) {
      if (!table) {
        for (const key of tableKeys) found.set(key, await this.#keyv.get(key));
        continue;
      }
      for (let i = 0; i < tableKeys.length; i += CHUNK) {
        const chunk = tableKeys.slice(i, i + CHUNK);
        const rows = await this.db.all<DocRow>(`SELECT key, doc${revColumn(table)} FROM ${table.table} WHERE key IN (${chunk.map(() => '?').join(', ')})`, ...chunk);
        const records = this.#records(table, rows);
        rows.forEach((row, i) => found.set(row.key, records[i]));
      }
    }
    return keys.map((key) => found.get(key) as T | undefined);
  }

  async set<T>(key: string, value: T, ttlMs?: number): Promise<void> {
    const table = tableOf(key);
    if (!table) {
      await this.#keyv.set(key, value, ttlMs);
      return;
    }
    await this.#sync.transactionSync(() => writeDocument(this.#sync, table, key, value, { cache: this.#detached }));
  }

  async delete(key: string): Promise<boolean> {
    const table = tableOf(key);
    if (!table) return this.#keyv.delete(key);
    const tx = this.#sync;
    return tx.transactionSync(() => {
      const before = table === JOBS ? tx.getSync<JobCountKey>('SELECT deployment_id, batch, state FROM jobs WHERE key = ?', key) : undefined;
      const bytes = table === LOGS ? tx.getSync<{ bytes: number }>('SELECT bytes FROM log_entries WHERE key = ?', key) : undefined;
      const { changes } = tx.runSync(`DELETE FROM ${table.table} WHERE key = ?`, key);
      if (table === AGENTS && changes > 0) addToTotal(tx, AGENT_COUNT, -1);
      if (bytes) addToTotal(tx, LOG_BYTES, -Number(bytes.bytes));
      this.#detached.delete(key);
      if (before) countJob(tx, before, -1);
      return changes > 0;
    });
  }

  async list<T>(prefix: string): Promise<Array<{ key: string; value: T }>> {
    const table = tableOf(prefix);
    if (!table) {
      return (await this.#kv.listPrefix(prefix)).map(({ key, value }) => ({ key, value: (value as { value: T }).value }));
    }
    const rows = await this.db.all<DocRow>(`SELECT key, doc${revColumn(table)} FROM ${table.table} WHERE key >= ? AND key < ? ORDER BY key`, prefix, `${prefix}\uffff`);
    const records = this.#records(table, rows);
    return rows.map((row, i) => ({ key: row.key, value: records[i] as T }));
  }

  async update<T>(key: string, fn: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    const table = tableOf(key);
    const tx = this.#sync;
    return tx.transactionSync(() => {
      if (!table) {
        // keyv's own wrapping ({ value, expires? }) is kept, so keyv reads what this writes.
        const current = this.#kv.readIn(tx, key);
        const next = fn(current?.value as T | undefined);
        if (next === undefined) return current?.value as T | undefined;
        this.#kv.writeIn(tx, key, { value: next });
        return next;
      }
      const row = tx.getSync<DocRow>(`SELECT key, doc${revColumn(table)} FROM ${table.table} WHERE key = ?`, key);
      const current = row ? (this.#records(table, [row])[0] as T) : undefined;
      const next = fn(current);
      if (next === undefined) return current;
      writeDocument(tx, table, key, next, { cache: this.#detached });
      return next;
    });
  }

  async insertMissing<T>(entries: Array<{ key: string; value: T }>): Promise<string[]> {
    const inserted: string[] = [];
    for (let i = 0; i < entries.length; i += CHUNK) {
      const chunk = entries.slice(i, i + CHUNK);
      // Other requests (lease renewals, polls) run between chunks: a promise alone would not let them.
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      await this.#sync.transactionSync(() => {
        for (const { key, value } of chunk) {
          const table = tableOf(key);
          if (!table) throw new Error(`insertMissing: ${key} is not a record key (it belongs to the kv table)`);
          if (writeDocument(this.#sync, table, key, value, { onlyIfMissing: true, cache: this.#detached })) inserted.push(key);
        }
      });
    }
    return inserted;
  }

  async runBatch(statements: Array<{ sql: string; params: SqlValue[] }>): Promise<number> {
    return this.#sync.transactionSync(() => statements.reduce((n, { sql, params }) => n + this.#sync.runSync(sql, ...params).changes, 0));
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** Parses rows into records, attaching a table's detached field from the cache (or reading it once). */
  #records(table: DocumentTable, rows: DocRow[]): unknown[] {
    const field = table.detached;
    return rows.map((row) => {
        const doc = JSON.parse(row.doc) as Record<string, unknown>;
        if (!field) return doc;
        const rev = Number(row.rev ?? 0);
        if (rev === 0) return doc;
        let value = this.#detached.get(row.key, rev);
        if (value === undefined) {
          const stored = this.#sync.getSync<{ part: string | null; rev: number }>(`SELECT ${field} AS part, ${field}_rev AS rev FROM ${table.table} WHERE key = ?`, row.key);
          if (!stored?.part) return doc;
          value = JSON.parse(stored.part);
          this.#detached.set(row.key, Number(stored.rev), value);
          value = this.#detached.get(row.key, Number(stored.rev));
        }
        return { ...doc, [field]: value };
    });
  }
}

/** `, <field>_rev AS rev` for a table with a detached field. */
function revColumn(table: DocumentTable): string {
  return table.detached ? `, ${table.detached}_rev AS rev` : '';
}

/**
 * Writes one record with its derived columns; for jobs, moves the deployment's counters from the old state to the
 * new one in the same transaction. With `onlyIfMissing`, an existing record is left alone (false).
 */
function writeDocument(tx: SyncSqlExecutor, table: DocumentTable, key: string, value: unknown, options: { onlyIfMissing?: boolean; cache?: DetachedCache } = {}): boolean {
  const field = table.detached;
  const whole = value as Record<string, unknown>;
  // A detached field is written only when it changed: the same (frozen, cached) value as read means unchanged.
  const part = field ? whole[field] : undefined;
  const { [field ?? '']: _part, ...rest } = whole;
  const doc = field ? rest : whole;
  const json = JSON.stringify(doc);
  const names = Object.keys(table.columns);
  const derived = names.map((name) => table.columns[name]!(whole, key, json));
  const before = table === JOBS && !options.onlyIfMissing ? tx.getSync<JobCountKey>('SELECT deployment_id, batch, state FROM jobs WHERE key = ?', key) : undefined;
  if (table === LOGS) {
    const old = options.onlyIfMissing ? undefined : tx.getSync<{ bytes: number }>('SELECT bytes FROM log_entries WHERE key = ?', key);
    const exists = options.onlyIfMissing && tx.getSync('SELECT 1 FROM log_entries WHERE key = ?', key);
    if (!exists) addToTotal(tx, LOG_BYTES, json.length - Number(old?.bytes ?? 0));
  }
  if (table === AGENTS && !tx.getSync('SELECT 1 FROM agents WHERE key = ?', key)) addToTotal(tx, AGENT_COUNT, 1);
  if (field && !options.onlyIfMissing && part !== undefined && options.cache?.peek(key)?.value === part) {
    const { changes } = tx.runSync(`UPDATE ${table.table} SET doc = ?${names.map((n) => `, ${n} = ?`).join('')} WHERE key = ?`, json, ...derived, key);
    if (changes > 0) return true;
  }
  const detachedNames = field ? [field, `${field}_rev`] : [];
  const detachedValues = field ? [part === undefined ? null : JSON.stringify(part), 1] : [];
  const columns = [...names, ...detachedNames];
  const placeholders = ['?', '?', ...columns.map(() => '?')].join(', ');
  const updates = [...names.map((n) => `, ${n} = excluded.${n}`), ...(field ? [`, ${field} = excluded.${field}`, `, ${field}_rev = ${table.table}.${field}_rev + 1`] : [])].join('');
  const conflict = options.onlyIfMissing ? 'DO NOTHING' : `DO UPDATE SET doc = excluded.doc${updates}`;
  const { changes } = tx.runSync(`INSERT INTO ${table.table} (key, doc${columns.map((n) => `, ${n}`).join('')}) VALUES (${placeholders}) ON CONFLICT (key) ${conflict}`, key, json, ...derived, ...detachedValues);
  if (changes === 0) return false;
  if (field && options.cache) {
    options.cache.delete(key);
    if (part !== undefined) {
      const stored = tx.getSync<{ rev: number }>(`SELECT ${field}_rev AS rev FROM ${table.table} WHERE key = ?`, key);
      if (stored) options.cache.set(key, Number(stored.rev), part);
    }
  }
  if (table === JOBS) {
    const after: JobCountKey = { deployment_id: derived[names.indexOf('deployment_id')] as string | null, batch: derived[names.indexOf('batch')] as number | null, state: derived[names.indexOf('state')] as string | null };
    if (!before || before.deployment_id !== after.deployment_id || before.batch !== after.batch || before.state !== after.state) {
      if (before) countJob(tx, before, -1);
      countJob(tx, after, 1);
    }
  }
  return true;
}

/** The name of the running total of log bytes in `totals` (the log budget reads it instead of summing every entry). */
export const LOG_BYTES = 'log_bytes';
/** The name of the running count of enrolled agents in `totals`. */
export const AGENT_COUNT = 'agents';

/** Adds `delta` to a running total kept in the same transaction as the change it counts. */
export function addToTotal(tx: Pick<SyncSqlExecutor, 'runSync'>, name: string, delta: number): void {
  if (delta === 0) return;
  tx.runSync('INSERT INTO totals (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = totals.n + excluded.n', name, delta);
}

function countJob(tx: SyncSqlExecutor, job: JobCountKey, delta: 1 | -1): void {
  if (job.deployment_id === null || job.batch === null || job.state === null) return;
  tx.runSync(
    'INSERT INTO job_counts (deployment_id, batch, state, n) VALUES (?, ?, ?, ?) ON CONFLICT (deployment_id, batch, state) DO UPDATE SET n = job_counts.n + excluded.n',
    job.deployment_id,
    Number(job.batch),
    job.state,
    delta,
  );
}

/**
 * Migration 3's mover: every kv row whose key belongs to a table is written there through the same path as new
 * records (derived columns, counters), then removed from kv. Keyv kept each value as `{ value, expires? }`.
 */
export function moveKvRecords(db: SyncSqlExecutor): void {
  for (const table of DOCUMENT_TABLES) {
    const rows = db.allSync<{ key: string; value: string }>('SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key', table.prefix, `${table.prefix}\uffff`);
    for (const row of rows) {
      const wrapped = JSON.parse(row.value) as { value?: unknown };
      if (wrapped.value !== undefined) writeDocument(db, table, row.key, wrapped.value);
    }
    db.runSync('DELETE FROM kv WHERE key >= ? AND key < ?', table.prefix, `${table.prefix}\uffff`);
  }
}
