/**
 * Many new records of one table written at once, those that exist already left alone (store.insertMissing: a batch of
 * 10,000 jobs): one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING key`, then what the new rows count (job
 * counters, running totals) in one more statement — two statements for 500 records instead of two each. Several hub
 * replicas may insert the same batch at once: the second waits on the first's new rows and gets none of them back, so
 * each record is counted once, by the transaction that made it.
 *
 * @example
 * const made = yield* insertDocuments(JOBS, [{ key: 'job:job_1', value: job }]); // ['job:job_1'], or [] if it existed
 */
import { AGENT_COUNT, jobCountWritesFor, LOG_BYTES, releaseWrites, totalWrites, type Before } from './document-writes.js';
import { AGENTS, JOBS, LOGS, type DocumentTable } from './sql/document-tables.js';
import type { SqlValue } from './sql/sql-database.js';
import { all, run, together, type Steps, type Write } from './sql/statement-steps.js';

/**
 * Inserts the records whose key has no row yet; returns their keys, in the order given (a key given twice: its first
 * record). For tables without a detached field (its column and revision are written by writeDocument).
 */
export function* insertDocuments(table: DocumentTable, entries: ReadonlyArray<{ key: string; value: unknown }>): Steps<string[]> {
  if (table.detached) throw new Error(`insertDocuments: ${table.table} has a detached field; write its records with writeDocument`);
  if (!entries.length) return [];
  const names = Object.keys(table.columns);
  const seen = new Set<string>();
  const unique = entries.filter(({ key }) => !seen.has(key) && seen.add(key));
  const rows = unique.map(({ key, value }) => {
    const whole = value as Record<string, unknown>;
    const json = JSON.stringify(whole);
    return { key, whole, json, derived: names.map((name) => table.columns[name]!(whole, key, json)) };
  });
  const params: SqlValue[] = rows.flatMap((r) => [r.key, r.json, ...r.derived]);
  const values = `(${['?', '?', ...names.map(() => '?')].join(', ')})`;
  const made = yield* all<{ key: string }>(
    `INSERT INTO ${table.table} (key, doc${names.map((n) => `, ${n}`).join('')}) VALUES ${rows.map(() => values).join(', ')} ON CONFLICT (key) DO NOTHING RETURNING key`,
    ...params,
  );
  const inserted = new Set(made.map((r) => r.key));
  const written = rows.filter((r) => inserted.has(r.key));
  const writes: Write[] = [];
  if (table === AGENTS) writes.push(...totalWrites(AGENT_COUNT, written.map(({ key }) => ({ key, delta: 1 }))));
  if (table === LOGS) writes.push(...totalWrites(LOG_BYTES, written.map(({ key, json }) => ({ key, delta: json.length }))));
  if (table === JOBS) {
    const column = (derived: SqlValue[], name: string) => derived[names.indexOf(name)];
    // A job made already ended (none the engine makes: records copied in) is its server's release, one at a time: the
    // writes of one statement would not see each other's release rows.
    for (const r of written) if (column(r.derived, 'state') === 'succeeded') for (const w of releaseWrites(r.whole)) yield* run(w.sql, ...w.params);
    const moves = written.map(({ key, derived }) => ({
      key,
      delta: 1,
      job: { deployment_id: column(derived, 'deployment_id'), batch: column(derived, 'batch'), state: column(derived, 'state') } as Before,
    }));
    writes.push(...jobCountWritesFor(moves));
  }
  yield* together(writes);
  return written.map((r) => r.key);
}
