import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';
import { print } from '../output.js';
import { synopsis } from '../command-registry.js';
import { parseCommand, required } from './parse-options.js';

/**
 * `bitenvoy store migrate --from sqlite:PATH --to postgres://…`: moves a hub's store to PostgreSQL (see
 * app/store/copy-store.ts), printing each table's row count and checksum as verified on both sides.
 */
export async function storeCommand(args: string[]): Promise<number> {
  if (args[0] !== 'migrate') {
    throw new BitEnvoyError('BE_USAGE', `unknown \`store\` command \`${args[0] ?? ''}\`; the one there is: migrate\nRun \`bitenvoy store migrate --help\`.`);
  }
  const { values } = parseCommand('store migrate', args.slice(1));
  const usage = synopsis('store migrate');
  const from = required(values.from, 'from', usage);
  const to = required(values.to, 'to', usage);
  if (!from.startsWith('sqlite:')) throw new BitEnvoyError('BE_USAGE', `--from ${from}: expected sqlite:PATH (the hub's data folder or its hub.sqlite file)\n${usage}`);
  const dataDir = sqliteDataDir(from.slice('sqlite:'.length));
  if (!/^postgres(ql)?:\/\//.test(to)) throw new BitEnvoyError('BE_USAGE', `--to: expected a postgres://USER@HOST:PORT/DATABASE URL\n${usage}`);

  // Loaded here only: the other commands need none of the store's modules.
  const { openStore } = await import('../../app/store/open-store.js');
  const { copyStore } = await import('../../app/store/copy-store.js');
  const database = { url: to, ...(process.env.BITENVOY_DATABASE_CA_FILE ? { caFile: process.env.BITENVOY_DATABASE_CA_FILE } : {}), ...(process.env.BITENVOY_DATABASE_PASSWORD_FILE ? { passwordFile: process.env.BITENVOY_DATABASE_PASSWORD_FILE } : {}) };
  const source = await openStore({ dataDir });
  try {
    const target = await openStore({ dataDir, database });
    try {
      print(`copying ${source.location} → ${target.location}`);
      const started = Date.now();
      let rows = 0;
      await copyStore(source.db, target.db, {
        onTable: (t) => {
          rows += t.rows;
          print(`  ${t.table.padEnd(16)} ${String(t.rows).padStart(9)} rows  sha256 ${t.checksum}  (same on both sides)`);
        },
      });
      print(`done: ${rows} rows in ${((Date.now() - started) / 1000).toFixed(1)} s, every table counted and hashed on both sides. Start the hub with BITENVOY_DATABASE_URL set to the target; keep ${join(dataDir, 'hub.sqlite')} until it runs.`);
      return 0;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** The data folder of `path` (the folder, or its hub.sqlite); it must hold a store: opening one would create it. */
function sqliteDataDir(path: string): string {
  const full = resolve(path);
  const dir = existsSync(full) && statSync(full).isFile() && basename(full) === 'hub.sqlite' ? resolve(full, '..') : full;
  if (!existsSync(join(dir, 'hub.sqlite'))) {
    throw new BitEnvoyError('BE_USAGE', `--from sqlite:${path}: no hub store there (${join(dir, 'hub.sqlite')}); give the hub's data folder (its BITENVOY_DATA_DIR) or its hub.sqlite file`);
  }
  return dir;
}
