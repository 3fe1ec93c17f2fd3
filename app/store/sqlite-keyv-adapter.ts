/**
 * A keyv store on the hub's SQL database (SQLite or PostgreSQL): the `kv` table of key, JSON text and an optional expiry, for short-lived
 * keyed data (nonces, sessions, webhook dedupe keys, token caches). Records with their own tables never come here
 * (see sql/document-tables.ts).
 *
 * @example
 * const keyv = new Keyv({ store: new KeyvBridgeAdapter(new SqlKeyvAdapter(db)), serialization: false });
 */
import type { SqlDatabase } from './sql/sql-database.js';
import { getLocked, run, type Steps } from './sql/statement-steps.js';

interface KvRow {
  key: string;
  value: string;
  expires: number | null;
}

export class SqlKeyvAdapter {
  readonly opts: { dialect: SqlDatabase['dialect'] };
  #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.#db = db;
    this.opts = { dialect: db.dialect };
  }

  async get(key: string): Promise<unknown> {
    const row = await this.#db.get<KvRow>('SELECT key, value, expires FROM kv WHERE key = ?', key);
    if (!row) return undefined;
    if (isExpired(row)) {
      await this.#db.run('DELETE FROM kv WHERE key = ? AND expires <= ?', key, Date.now());
      return undefined;
    }
    return JSON.parse(row.value);
  }

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.#db.run(
      'INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires',
      key,
      JSON.stringify(value),
      ttl ? Date.now() + ttl : null,
    );
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#db.run('DELETE FROM kv WHERE key = ?', key)).changes > 0;
  }

  async clear(): Promise<void> {
    await this.#db.run('DELETE FROM kv');
  }

  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((key) => this.has(key)));
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  async deleteMany(keys: string[]): Promise<boolean[]> {
    const deleted: boolean[] = [];
    for (const key of keys) deleted.push((await this.#db.run('DELETE FROM kv WHERE key = ?', key)).changes > 0);
    return deleted;
  }

  /** Live entries whose key starts with `prefix`, in key order (an index range scan, not a table scan). */
  async listPrefix(prefix: string): Promise<Array<{ key: string; value: unknown }>> {
    const rows = await this.#db.all<KvRow>('SELECT key, value, expires FROM kv WHERE key >= ? AND key < ? ORDER BY key', prefix, `${prefix}\uffff`);
    return rows.filter((row) => !isExpired(row)).map((row) => ({ key: row.key, value: JSON.parse(row.value) }));
  }

  /** Every live entry, or only those of `namespace` (keyv prefixes namespaced keys with `<namespace>::`). */
  async *iterator(namespace?: string): AsyncGenerator<[string, unknown]> {
    for (const { key, value } of await this.listPrefix(namespace ? `${namespace}::` : '')) yield [key, value];
  }

  /**
   * The stored (keyv-wrapped) value, read inside a write transaction (statement steps) and locked until it ends;
   * undefined when absent or expired.
   */
  *readIn(key: string): Steps<{ value?: unknown } | undefined> {
    const row = yield* getLocked<KvRow>('SELECT key, value, expires FROM kv WHERE key = ?', key);
    return row && !isExpired(row) ? (JSON.parse(row.value) as { value?: unknown }) : undefined;
  }

  *writeIn(key: string, value: unknown, ttl?: number): Steps<void> {
    yield* run(
      'INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires',
      key,
      JSON.stringify(value),
      ttl ? Date.now() + ttl : null,
    );
  }

  /** Deletes the entry inside a write transaction (statement steps), after {@link SqlKeyvAdapter.readIn} locked it. */
  *deleteIn(key: string): Steps<void> {
    yield* run('DELETE FROM kv WHERE key = ?', key);
  }

  async disconnect(): Promise<void> {
    await this.#db.close();
  }
}

function isExpired(row: KvRow): boolean {
  return row.expires !== null && Number(row.expires) <= Date.now();
}
