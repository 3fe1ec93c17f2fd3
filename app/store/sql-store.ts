/**
 * The hub's {@link Store} on SQL: records live in their own tables with derived, indexed columns
 * (sql/document-tables.ts), job state changes keep per-deployment counters in the same transaction, and every other
 * key (nonces, sessions, dedupe keys, caches: short-lived keyed data with expiry) goes to keyv's `kv` table on the
 * same database. Named queries over the tables live in the query modules (deployment-queries.ts, job-queries.ts,
 * agent-queries.ts, audit-queries.ts), which use {@link SqlStore.db}. The database is SQLite or PostgreSQL; the writes
 * are one copy of statement generators (document-writes.ts) that each backend runs as one transaction.
 *
 * @example
 * const store = await openStore({ dataDir });
 * await store.update<JobRecord>(keys.job(id), (job) => job && { ...job, state: 'claimed' });
 */
import { Keyv, KeyvBridgeAdapter } from 'keyv';
import { DetachedCache } from './detached-cache.js';
import { insertDocuments } from './insert-documents.js';
import { deleteDocument, lockedReadColumns, runStatements, writeDocument, type Before, type WriteOptions } from './document-writes.js';
import type { Store } from './store.js';
import { SqlKeyvAdapter } from './sqlite-keyv-adapter.js';
import { tableOf, type DocumentTable } from './sql/document-tables.js';
import type { SqlDatabase, SqlValue } from './sql/sql-database.js';
import { driveAsync, get, getLocked, type Steps } from './sql/statement-steps.js';

/** Rows per `IN (…)` list: well under SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 500;

interface DocRow {
  key: string;
  doc: string;
  rev?: number | null;
  overlay?: string | null;
}

export class SqlStore implements Store {
  /** The database, for the query modules and retention. */
  readonly db: SqlDatabase;
  /** Where the store is, for the hub's log: `SQLite /var/lib/bitenvoy/hub.sqlite`, `PostgreSQL postgres://…` (no password). */
  readonly location: string;
  #keyv: Keyv;
  #kv: SqlKeyvAdapter;
  #detached = new DetachedCache();

  constructor(db: SqlDatabase, location: string = db.dialect) {
    this.db = db;
    this.location = location;
    this.#kv = new SqlKeyvAdapter(db);
    this.#keyv = new Keyv({ store: new KeyvBridgeAdapter(this.#kv), serialization: false, namespace: '' });
  }

  async get<T>(key: string): Promise<T | undefined> {
    const table = tableOf(key);
    if (!table) return (await this.#keyv.get(key)) as T | undefined;
    const row = await this.db.get<DocRow>(`SELECT key, doc${revColumn(table)} FROM ${table.table} WHERE key = ?`, key);
    return row ? ((await this.#read(this.#records(table, [row])))[0] as T) : undefined;
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
        const records = await this.#read(this.#records(table, rows));
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
    await this.#write((options) => writeDocument(table, key, value, { ...options, last: true }));
  }

  async delete(key: string): Promise<boolean> {
    const table = tableOf(key);
    if (!table) return this.#keyv.delete(key);
    return this.#write((options) => deleteDocument(table, key, options.cache));
  }

  async list<T>(prefix: string): Promise<Array<{ key: string; value: T }>> {
    const table = tableOf(prefix);
    if (!table) {
      return (await this.#kv.listPrefix(prefix)).map(({ key, value }) => ({ key, value: (value as { value: T }).value }));
    }
    const rows = await this.db.all<DocRow>(`SELECT key, doc${revColumn(table)} FROM ${table.table} WHERE key >= ? AND key < ? ORDER BY key`, prefix, `${prefix}\uffff`);
    const records = await this.#read(this.#records(table, rows));
    return rows.map((row, i) => ({ key: row.key, value: records[i] as T }));
  }

  /**
   * On PostgreSQL the key's row is read `FOR UPDATE` (a new key: under a lock on the key), so updates from several
   * processes take turns. A transaction that lost a deadlock runs again: `fn` may be called more than once, and must
   * only compute the new value from the current one.
   */
  async update<T>(key: string, fn: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    const table = tableOf(key);
    const kv = this.#kv;
    const records = (rows: DocRow[]) => this.#records(table!, rows);
    return this.#write(function* (options): Steps<T | undefined> {
      if (!table) {
        // keyv's own wrapping ({ value, expires? }) is kept, so keyv reads what this writes.
        const current = yield* kv.readIn(key);
        const next = fn(current?.value as T | undefined);
        if (next === undefined) return current?.value as T | undefined;
        yield* kv.writeIn(key, { value: next });
        return next;
      }
      // The counters' columns come with the record, under the same lock: the write need not read the row again.
      const row = yield* getLocked<DocRow & Before>(`SELECT key, doc${revColumn(table)}${lockedReadColumns(table)} FROM ${table.table} WHERE key = ?`, key);
      const current = row ? ((yield* records([row]))[0] as T) : undefined;
      const next = fn(current);
      if (next === undefined) return current;
      yield* writeDocument(table, key, next, { ...options, replaces: { row }, last: true });
      return next;
    });
  }

  async deleteIf<T>(key: string, test: (current: T) => boolean): Promise<boolean> {
    const table = tableOf(key);
    const kv = this.#kv;
    const records = (rows: DocRow[]) => this.#records(table!, rows);
    return this.#write(function* (options): Steps<boolean> {
      if (!table) {
        const current = yield* kv.readIn(key);
        if (!current || !test(current.value as T)) return false;
        yield* kv.deleteIn(key);
        return true;
      }
      const row = yield* getLocked<DocRow>(`SELECT key, doc${revColumn(table)} FROM ${table.table} WHERE key = ?`, key);
      if (!row || !test((yield* records([row]))[0] as T)) return false;
      return yield* deleteDocument(table, key, options.cache);
    });
  }

  async insertMissing<T>(entries: Array<{ key: string; value: T }>): Promise<string[]> {
    const inserted: string[] = [];
    for (let i = 0; i < entries.length; i += CHUNK) {
      const chunk = entries.slice(i, i + CHUNK);
      // Other requests (lease renewals, polls) run between chunks: a promise alone would not let them.
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      inserted.push(
        ...(await this.#write(function* (options): Steps<string[]> {
          const byTable = new Map<DocumentTable, Array<{ key: string; value: T }>>();
          for (const entry of chunk) {
            const table = tableOf(entry.key);
            if (!table) throw new Error(`insertMissing: ${entry.key} is not a record key (it belongs to the kv table)`);
            const rows = byTable.get(table);
            if (rows) rows.push(entry);
            else byTable.set(table, [entry]);
          }
          const written = new Set<string>();
          for (const [table, rows] of byTable) {
            // A table's records in one statement (insert-documents.ts); one with a detached field one by one.
            if (!table.detached) for (const key of yield* insertDocuments(table, rows)) written.add(key);
            else for (const { key, value } of rows) if (yield* writeDocument(table, key, value, { ...options, onlyIfMissing: true })) written.add(key);
          }
          // In the order given, each key once.
          return chunk.filter(({ key }) => written.delete(key)).map(({ key }) => key);
        })),
      );
    }
    return inserted;
  }

  async runBatch(statements: Array<{ sql: string; params: SqlValue[] }>): Promise<number> {
    return this.db.transactionSteps(() => runStatements(statements));
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /**
   * One write transaction of statement steps; what the steps leave for after the commit (caching a new plan) runs
   * once it committed. A retried transaction (PostgreSQL) starts again with a fresh list.
   */
  async #write<T>(steps: (options: WriteOptions & { cache: DetachedCache }) => Steps<T>): Promise<T> {
    let afterCommit: Array<() => void> = [];
    const result = await this.db.transactionSteps(() => {
      afterCommit = [];
      return steps({ cache: this.#detached, afterCommit });
    });
    for (const action of afterCommit) action();
    return result;
  }

  /** Runs read steps outside a transaction. */
  #read<T>(steps: Steps<T>): Promise<T> {
    return driveAsync(this.db, steps);
  }

  /**
   * Parses rows into records, attaching a table's detached field from the cache, or reading it once (with the
   * document again, in one statement: the two always match, whoever wrote in between).
   */
  *#records(table: DocumentTable, rows: DocRow[]): Steps<unknown[]> {
    const field = table.detached;
    const records: unknown[] = [];
    for (const row of rows) {
      const doc = withOverlay(table, JSON.parse(row.doc) as Record<string, unknown>, row.overlay);
      const rev = Number(row.rev ?? 0);
      if (!field || rev === 0) {
        records.push(doc);
        continue;
      }
      const cached = this.#detached.get(row.key, rev);
      if (cached !== undefined) {
        records.push({ ...doc, [field]: cached });
        continue;
      }
      const stored = yield* get<{ doc: string; part: string | null; rev: number }>(`SELECT doc, ${field} AS part, ${field}_rev AS rev FROM ${table.table} WHERE key = ?`, row.key);
      if (!stored) {
        records.push(doc);
        continue;
      }
      const current = JSON.parse(stored.doc) as Record<string, unknown>;
      if (!stored.part) {
        records.push(current);
        continue;
      }
      this.#detached.set(row.key, Number(stored.rev), JSON.parse(stored.part));
      records.push({ ...current, [field]: this.#detached.get(row.key, Number(stored.rev)) });
    }
    return records;
  }
}

/** `, <field>_rev AS rev` for a table with a detached field; `, <column> AS overlay` for one with an overlay. */
function revColumn(table: DocumentTable): string {
  return `${table.detached ? `, ${table.detached}_rev AS rev` : ''}${table.overlay ? `, ${table.overlay.column} AS overlay` : ''}`;
}

/** The document with its overlaid field taken from its column (see DocumentTable.overlay). */
export function withOverlay(table: DocumentTable, doc: Record<string, unknown>, value: unknown): Record<string, unknown> {
  if (!table.overlay || value === null || value === undefined) return doc;
  doc[table.overlay.field] = value;
  return doc;
}
