/**
 * `bitenvoy store migrate`: copies a hub's store from its SQLite file into an empty PostgreSQL database, verifiably.
 * Both stores are opened through openStore, so both are at this release's schema (the source is migrated first, as a
 * hub starting on it would). Every table is copied in its SQLite row order (log entries keep their order), in
 * batches, each in one transaction; then each table's rows are counted and hashed on both sides, in primary-key order
 * over the columns both have, and any difference fails the command. A target that holds any row is refused: nothing
 * is overwritten or merged.
 *
 * @example
 * const report = await copyStore(sqliteStore.db, pgStore.db, { onTable: (t) => console.log(t.table, t.rows) });
 */
import { createHash } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import type { SqlDatabase, SqlValue } from './sql/sql-database.js';

/** Rows per INSERT transaction. */
const BATCH = 500;

export interface TableCopy {
  table: string;
  rows: number;
  /** sha256 over the table's rows (primary-key order, shared columns), the same on both sides. */
  checksum: string;
}

interface Column {
  name: string;
  pk: number;
}

/** The tables a store has besides the migrations' own bookkeeping, in creation order. */
async function tablesOf(source: SqlDatabase): Promise<string[]> {
  const rows = await source.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY rowid");
  return rows.map((row) => row.name);
}

async function columnsOf(source: SqlDatabase, table: string): Promise<Column[]> {
  return (await source.all<Column>('SELECT name, pk FROM pragma_table_info(?)', table)).map((c) => ({ name: c.name, pk: Number(c.pk) }));
}

async function targetColumns(target: SqlDatabase, table: string): Promise<Map<string, { generatedAlways: boolean; identity: boolean }>> {
  const rows = await target.all<{ column_name: string; is_identity: string; identity_generation: string | null }>(
    'SELECT column_name, is_identity, identity_generation FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?',
    table,
  );
  return new Map(rows.map((r) => [r.column_name, { identity: r.is_identity === 'YES', generatedAlways: r.identity_generation === 'ALWAYS' }]));
}

/** Refuses a target that holds anything (besides its migrations' record). */
export async function assertEmptyTarget(source: SqlDatabase, target: SqlDatabase): Promise<void> {
  const found: string[] = [];
  for (const table of await tablesOf(source)) {
    const row = await target.get<{ n: number }>(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${table} LIMIT 1) AS probe`);
    if (Number(row?.n ?? 0) > 0) found.push(table);
  }
  if (found.length) {
    throw new BitEnvoyError(
      'BE_USAGE',
      `the target database is not empty (rows in ${found.join(', ')}): store migrate copies into a new, empty database only, so nothing is overwritten or merged; create one (createdb bitenvoy_new) and point --to at it`,
    );
  }
}

/** Copies every table, then verifies counts and checksums on both sides; returns them per table. */
export async function copyStore(source: SqlDatabase, target: SqlDatabase, options: { onTable?: (copy: TableCopy) => void } = {}): Promise<TableCopy[]> {
  if (source.dialect !== 'sqlite' || target.dialect !== 'postgres') {
    throw new BitEnvoyError('BE_USAGE', 'store migrate copies from a SQLite store (--from sqlite:PATH) into a PostgreSQL one (--to postgres://…)');
  }
  await assertEmptyTarget(source, target);
  const copies: TableCopy[] = [];
  for (const table of await tablesOf(source)) {
    const sourceColumns = await columnsOf(source, table);
    const targetInfo = await targetColumns(target, table);
    const shared = sourceColumns.filter((c) => targetInfo.has(c.name) && !targetInfo.get(c.name)!.generatedAlways);
    if (shared.length === 0) continue;
    const names = shared.map((c) => c.name);
    const insert = `INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`;
    let after = 0;
    for (;;) {
      const rows = await source.all<Record<string, SqlValue>>(`SELECT rowid AS rowid_, ${names.join(', ')} FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ?`, after, BATCH);
      if (rows.length === 0) break;
      await target.transaction(async (tx) => {
        for (const row of rows) await tx.run(insert, ...names.map((n) => row[n] ?? null));
      });
      after = Number(rows.at(-1)!.rowid_);
      if (rows.length < BATCH) break;
    }
    // An identity column given explicit values: its sequence goes on after the highest, as if the rows had been made here.
    for (const c of shared) {
      if (targetInfo.get(c.name)?.identity) {
        await target.run(`SELECT setval(pg_get_serial_sequence('${table}', '${c.name}'), COALESCE((SELECT MAX(${c.name}) FROM ${table}), 0) + 1, false)`);
      }
    }
    const order = shared.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    const [mine, theirs] = [await tableDigest(source, table, names, order), await tableDigest(target, table, names, order)];
    if (mine.rows !== theirs.rows || mine.checksum !== theirs.checksum) {
      throw new BitEnvoyError(
        'BE_INTERNAL',
        `store migrate: ${table} differs after the copy (source ${mine.rows} rows, ${mine.checksum.slice(0, 12)}; target ${theirs.rows} rows, ${theirs.checksum.slice(0, 12)}); drop the target database, create it again and rerun — and report this`,
      );
    }
    const copy = { table, rows: mine.rows, checksum: mine.checksum };
    copies.push(copy);
    options.onTable?.(copy);
  }
  return copies;
}

/**
 * Count and sha256 of a table's rows in primary-key order: each value as text, null marked apart. A table with a
 * one-column key is read by ranges of it (the key's index); the few with a composite key (small ones) by pages.
 */
async function tableDigest(db: SqlDatabase, table: string, columns: string[], order: string[]): Promise<{ rows: number; checksum: string }> {
  const hash = createHash('sha256');
  let rows = 0;
  const page = 5000;
  const byKey = order.length === 1 ? order[0]! : undefined;
  let last: SqlValue | undefined;
  for (let offset = 0; ; offset += page) {
    const sql = byKey
      ? `SELECT ${columns.join(', ')} FROM ${table}${last === undefined ? '' : ` WHERE ${byKey} > ?`} ORDER BY ${byKey} LIMIT ${page}`
      : `SELECT ${columns.join(', ')} FROM ${table} ORDER BY ${(order.length ? order : columns).join(', ')} LIMIT ${page} OFFSET ${offset}`;
    const rowsRead = await db.all<Record<string, SqlValue>>(sql, ...(byKey && last !== undefined ? [last] : []));
    for (const row of rowsRead) {
      hash.update(columns.map((c) => (row[c] === null || row[c] === undefined ? '\u0000' : String(row[c]))).join('\u0001') + '\u0002');
      rows++;
    }
    if (rowsRead.length < page) break;
    if (byKey) last = rowsRead.at(-1)![byKey] ?? null;
  }
  return { rows, checksum: hash.digest('hex') };
}
