/**
 * Retention: what the store keeps, and the pruning that keeps it so. Deployments (with their jobs, counters and
 * logs) older than `BITENVOY_RETENTION_DAYS` go, except what an environment still needs — its newest deployment,
 * what it runs now and the commit `/rollback` would go back to; audit entries stay longer
 * (`BITENVOY_AUDIT_RETENTION_DAYS`, exportable with `bitenvoy audit`); all logs together stay within
 * `BITENVOY_LOG_BUDGET_MB`, the oldest entries going first. Every step deletes a small batch in its own transaction
 * and yields; a SQLite file gives the freed pages back (incremental vacuum), PostgreSQL's autovacuum does the same there.
 *
 * @example
 * const pruner = startPruning(store, { retentionDays: 90, auditRetentionDays: 730, logBudgetBytes: 2 ** 31 }, log);
 * pruner.stop();
 */
import type { Logger } from '../../lib/logger.js';
import { lastGoodOtherThan, latestSuccessful } from './deployment-queries.js';
import { addToTotalFor, LOG_BYTES, readTotal } from './document-writes.js';
import type { SqlStore } from './sql-store.js';
import { insertionOrderOf } from './sql/migrations.js';
import type { SqlDatabase } from './sql/sql-database.js';
import { all, run, type Steps } from './sql/statement-steps.js';

export interface RetentionSettings {
  retentionDays: number;
  auditRetentionDays: number;
  logBudgetBytes: number;
}

export interface PruneResult {
  deployments: number;
  jobs: number;
  logEntries: number;
  auditEntries: number;
  /** Pages the file gave back (SQLite; 0 on PostgreSQL, where autovacuum does it). */
  pagesFreed: number;
}

/** Rows deleted per transaction: each step is short, and the event loop runs between steps. */
const BATCH = 500;
const DAY_MS = 86_400_000;

/**
 * The deployments that are never pruned: per environment, its newest one, the one that succeeded last (what it
 * runs) and the newest success of another commit (what `/rollback` goes back to).
 */
export async function keptDeployments(store: SqlStore): Promise<Set<string>> {
  const kept = new Set<string>();
  const environments = await store.db.all<{ repository: string; environment: string }>(
    'SELECT DISTINCT repository, environment FROM deployments WHERE repository IS NOT NULL AND environment IS NOT NULL',
  );
  for (const { repository, environment } of environments) {
    const newest = await store.db.get<{ key: string }>('SELECT key FROM deployments WHERE repository = ? AND environment = ? ORDER BY created_at DESC, key DESC LIMIT 1', repository, environment);
    if (newest) kept.add(newest.key);
    const live = await latestSuccessful(store, repository, environment);
    if (!live) continue;
    kept.add(`deployment:${live.id}`);
    const previous = await lastGoodOtherThan(store, repository, environment, live.sha);
    if (previous) kept.add(`deployment:${previous.id}`);
  }
  return kept;
}

/** One pass of pruning at `now`. */
export async function pruneOnce(store: SqlStore, settings: RetentionSettings, now = Date.now()): Promise<PruneResult> {
  const result: PruneResult = { deployments: 0, jobs: 0, logEntries: 0, auditEntries: 0, pagesFreed: 0 };
  const db = store.db;
  const kept = await keptDeployments(store);
  const cutoff = new Date(now - settings.retentionDays * DAY_MS).toISOString();

  // Old deployments, oldest first, a page at a time (a cursor past the kept ones).
  let after = { createdAt: '', key: '' };
  for (;;) {
    const page = await store.db.all<{ key: string; created_at: string }>(
      'SELECT key, created_at FROM deployments WHERE active = 0 AND created_at < ? AND (created_at > ? OR (created_at = ? AND key > ?)) ORDER BY created_at, key LIMIT ?',
      cutoff,
      after.createdAt,
      after.createdAt,
      after.key,
      BATCH,
    );
    for (const row of page) {
      const id = row.key.slice('deployment:'.length);
      // Kept ones lose their logs only; the others go whole, their jobs a batch at a time, the record last.
      result.logEntries += await deleteLogsOf(db, id);
      if (kept.has(row.key)) continue;
      for (;;) {
        const deleted = await db.transactionSteps(() => changesOf(run('DELETE FROM jobs WHERE key IN (SELECT key FROM jobs WHERE deployment_id = ? LIMIT ?)', id, BATCH)));
        result.jobs += deleted;
        if (deleted < BATCH) break;
        await yieldToEventLoop();
      }
      await db.transactionSteps(function* () {
        yield* run('DELETE FROM job_counts WHERE deployment_id = ?', id);
        yield* run('DELETE FROM deployments WHERE key = ?', row.key);
      });
      result.deployments += 1;
    }
    if (page.length < BATCH) break;
    after = { createdAt: page[page.length - 1]!.created_at, key: page[page.length - 1]!.key };
    await yieldToEventLoop();
  }

  // Audit entries: kept longer, then gone oldest first.
  const auditCutoff = `audit:${new Date(now - settings.auditRetentionDays * DAY_MS).toISOString()}`;
  for (;;) {
    const deleted = await db.transactionSteps(() => changesOf(run('DELETE FROM audit_entries WHERE key IN (SELECT key FROM audit_entries WHERE key < ? ORDER BY key LIMIT ?)', auditCutoff, BATCH)));
    result.auditEntries += deleted;
    if (deleted < BATCH) break;
    await yieldToEventLoop();
  }

  // The log budget: the oldest entries go until all logs fit (a running total, not a sum over every entry).
  for (;;) {
    const total = await readTotal(store.db, LOG_BYTES);
    if (total <= settings.logBudgetBytes) break;
    const deleted = await db.transactionSteps(() => deleteOldestLogs(db.dialect, total - settings.logBudgetBytes));
    result.logEntries += deleted;
    if (deleted === 0) break;
    await yieldToEventLoop();
  }

  // Give the freed pages back to the file system, a bounded number per pass (PostgreSQL: autovacuum).
  if (db.dialect === 'sqlite') {
    const free = Number((await db.get<{ freelist_count: number }>('PRAGMA freelist_count'))?.freelist_count ?? 0);
    if (free > 0) {
      // Each step of the statement frees one page: it must be stepped to the end (all, not run).
      await db.all('PRAGMA incremental_vacuum(4096)');
      result.pagesFreed = free - Number((await db.get<{ freelist_count: number }>('PRAGMA freelist_count'))?.freelist_count ?? 0);
    }
  }
  return result;
}

/**
 * Deletes the oldest log entries (by insertion) until `over` bytes are gone, at most a batch; keeps the running total
 * true. Returns the entries deleted.
 */
function* deleteOldestLogs(dialect: SqlDatabase['dialect'], over: number): Steps<number> {
  const order = insertionOrderOf(dialect);
  const oldest = yield* all<{ n: number; bytes: number }>(`SELECT ${order} AS n, bytes FROM log_entries ORDER BY ${order} LIMIT ?`, BATCH);
  let upTo = -1;
  for (const entry of oldest) {
    if (over <= 0) break;
    over -= Number(entry.bytes);
    upTo = Number(entry.n);
  }
  if (upTo < 0) return 0;
  // What was deleted, not what was read: another hub may have written an entry in between.
  const deleted = yield* all<{ key: string; bytes: number }>(`DELETE FROM log_entries WHERE ${order} <= ? RETURNING key, bytes`, upTo);
  yield* addToTotalFor(LOG_BYTES, deleted.map((row) => ({ key: row.key, delta: -Number(row.bytes) })));
  return deleted.length;
}

/** Deletes the log entries of a deployment's jobs, a batch per transaction, keeping the running total true. */
async function deleteLogsOf(db: SqlDatabase, deploymentId: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    const n = await db.transactionSteps(function* () {
      const rows = yield* all<{ key: string; bytes: number }>(
        'DELETE FROM log_entries WHERE key IN (SELECT l.key FROM log_entries l WHERE l.job_id IN (SELECT substr(j.key, 5) FROM jobs j WHERE j.deployment_id = ?) LIMIT ?) RETURNING key, bytes',
        deploymentId,
        BATCH,
      );
      yield* addToTotalFor(LOG_BYTES, rows.map((row) => ({ key: row.key, delta: -Number(row.bytes) })));
      return rows.length;
    });
    deleted += n;
    if (n < BATCH) return deleted;
    await yieldToEventLoop();
  }
}

function* changesOf(statement: Steps<{ changes: number }>): Steps<number> {
  return (yield* statement).changes;
}

/**
 * Prunes a minute after start, then every `everyMs` (10 minutes), never two passes at once; logs what it removed.
 */
export function startPruning(
  store: SqlStore,
  settings: RetentionSettings,
  log: Logger,
  everyMs = 10 * 60_000,
  /** Whether this replica runs the periodic work (see leader-lease.ts); the timer skips its turns otherwise. */
  leading: () => boolean = () => true,
): { stop(): void; runNow(): Promise<PruneResult | undefined> } {
  let running: Promise<PruneResult | undefined> | undefined;
  const run = (): Promise<PruneResult | undefined> => {
    running ??= pruneOnce(store, settings)
      .then((result) => {
        if (result.deployments || result.logEntries || result.auditEntries) log.info({ ...result }, 'pruned the store (retention)');
        return result;
      })
      .catch((err: unknown) => {
        log.error({ err }, 'pruning the store failed; it is tried again at the next pass');
        return undefined;
      })
      .finally(() => (running = undefined));
    return running;
  };
  const first = setTimeout(() => leading() && void run(), Math.min(60_000, everyMs));
  const timer = setInterval(() => leading() && void run(), everyMs);
  first.unref();
  timer.unref();
  return {
    stop() {
      clearTimeout(first);
      clearInterval(timer);
    },
    runNow: run,
  };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
