/**
 * A keyv store on Node's built-in `node:sqlite` (no native addon): one table of key, JSON text and an optional
 * expiry. WAL mode and a busy timeout let the CLI write into the same file while the hub runs.
 *
 * @example
 * const keyv = new Keyv({ store: new KeyvBridgeAdapter(new SqliteKeyvStore('/var/lib/bitenvoy/hub.sqlite')), serialization: false });
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

export class SqliteKeyvStore {
  readonly opts = { dialect: 'sqlite' };
  #db: DatabaseSync;
  #get: StatementSync;
  #set: StatementSync;
  #delete: StatementSync;
  #range: StatementSync;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.#db = new DatabaseSync(file);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER);
    `);
    this.#get = this.#db.prepare('SELECT value, expires FROM kv WHERE key = ?');
    this.#set = this.#db.prepare('INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires');
    this.#delete = this.#db.prepare('DELETE FROM kv WHERE key = ?');
    this.#range = this.#db.prepare('SELECT key, value, expires FROM kv WHERE key >= ? AND key < ? ORDER BY key');
  }

  async get(key: string): Promise<unknown> {
    return this.getSync(key);
  }

  getSync(key: string): unknown {
    const row = this.#get.get(key) as { value: string; expires: number | null } | undefined;
    if (!row) return undefined;
    if (row.expires !== null && row.expires <= Date.now()) {
      this.#delete.run(key);
      return undefined;
    }
    return JSON.parse(row.value);
  }

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    this.setSync(key, value, ttl);
    return true;
  }

  setSync(key: string, value: unknown, ttl?: number): void {
    this.#set.run(key, JSON.stringify(value), ttl ? Date.now() + ttl : null);
  }

  async delete(key: string): Promise<boolean> {
    return Number(this.#delete.run(key).changes) > 0;
  }

  async clear(): Promise<void> {
    this.#db.exec('DELETE FROM kv');
  }

  async has(key: string): Promise<boolean> {
    return this.getSync(key) !== undefined;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return keys.map((key) => this.getSync(key) !== undefined);
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    return keys.map((key) => this.getSync(key));
  }

  async deleteMany(keys: string[]): Promise<boolean[]> {
    return this.transaction(() => keys.map((key) => Number(this.#delete.run(key).changes) > 0));
  }

  /** Entries whose key starts with `prefix`, in key order (an index range scan, not a table scan). */
  listPrefix(prefix: string): Array<{ key: string; value: unknown }> {
    const rows = this.#range.all(prefix, prefix + '\uffff') as Array<{ key: string; value: string; expires: number | null }>;
    const now = Date.now();
    return rows.filter((r) => r.expires === null || r.expires > now).map((r) => ({ key: r.key, value: JSON.parse(r.value) }));
  }

  /** Every live entry, or only those of `namespace` (keyv prefixes namespaced keys with `<namespace>::`). */
  async *iterator(namespace?: string): AsyncGenerator<[string, unknown]> {
    for (const { key, value } of this.listPrefix(namespace ? `${namespace}::` : '')) yield [key, value];
  }

  /** Runs `fn` inside one SQLite transaction (BEGIN IMMEDIATE), so writes from other processes cannot interleave. */
  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  async disconnect(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}
