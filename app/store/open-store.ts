import { join } from 'node:path';
import { KeyvStore } from './keyv-store.js';
import { SqliteKeyvStore } from './sqlite-keyv-adapter.js';
import type { Store } from './store.js';

/**
 * Opens the hub's store: the embedded SQLite file `<dataDir>/hub.sqlite`.
 *
 * @example
 * const store = await openStore({ dataDir: process.env.BITENVOY_DATA_DIR ?? '.bitenvoy-data' });
 */
export async function openStore(options: { dataDir: string }): Promise<Store> {
  return new KeyvStore(new SqliteKeyvStore(join(options.dataDir, 'hub.sqlite')));
}
