import { join } from 'node:path';
import { moveKvRecords } from './document-writes.js';
import { SqlStore } from './sql-store.js';
import { migrate, migrations } from './sql/migrations.js';
import type { DatabaseSettings } from './sql/pg-connection.js';
import type { SqlDatabase } from './sql/sql-database.js';
import { openSqliteDatabase } from './sql/sqlite-database.js';

export interface OpenStoreOptions {
  /** Where the embedded SQLite file lives (`<dataDir>/hub.sqlite`) when there is no `database`. */
  dataDir: string;
  /** The PostgreSQL store (`BITENVOY_DATABASE_URL` and its files); without it, SQLite. */
  database?: DatabaseSettings;
  /** Told when an idle PostgreSQL connection breaks (the pool replaces it; the hub logs it). */
  onDatabaseError?: (err: Error) => void;
}

/**
 * Opens the hub's store — PostgreSQL when `database` is given (BITENVOY_DATABASE_URL), else the embedded SQLite file
 * `<dataDir>/hub.sqlite` — migrated to this release's schema (a store written by a newer release is refused, saying
 * so). `store.location` says which, without a password.
 *
 * @example
 * const store = await openStore({ dataDir: settings.dataDir, ...(settings.database ? { database: settings.database } : {}) });
 * log.info(`store: ${store.location}`);
 */
export async function openStore(options: OpenStoreOptions): Promise<SqlStore> {
  let db: SqlDatabase;
  /** The file, or the URL without its password. */
  let where: string;
  let location: string;
  if (options.database) {
    // Loaded only when used: a hub on SQLite does not carry the PostgreSQL client.
    const { openPgDatabase } = await import('./sql/pg-database.js');
    const pg = await openPgDatabase(options.database, options.onDatabaseError ? { onIdleError: options.onDatabaseError } : {});
    db = pg;
    where = pg.display;
    location = `PostgreSQL ${where}`;
  } else {
    const file = join(options.dataDir, 'hub.sqlite');
    db = openSqliteDatabase(file);
    where = file;
    location = `SQLite ${file}`;
  }
  try {
    await migrate(db, migrations(moveKvRecords), where);
  } catch (err) {
    await db.close();
    throw err;
  }
  return new SqlStore(db, location);
}
