import { join } from 'node:path';
import { SqlStore, moveKvRecords } from './sql-store.js';
import { migrate, migrations } from './sql/migrations.js';
import { openSqliteDatabase } from './sql/sqlite-database.js';

/**
 * Opens the hub's store: the embedded SQLite file `<dataDir>/hub.sqlite`, migrated to this release's schema (a
 * store written by a newer release is refused, saying so).
 *
 * @example
 * const store = await openStore({ dataDir: process.env.BITENVOY_DATA_DIR ?? '.bitenvoy-data' });
 */
export async function openStore(options: { dataDir: string }): Promise<SqlStore> {
  const file = join(options.dataDir, 'hub.sqlite');
  const db = openSqliteDatabase(file);
  try {
    await migrate(db, migrations(() => moveKvRecords(db)), file);
  } catch (err) {
    await db.close();
    throw err;
  }
  return new SqlStore(db);
}
