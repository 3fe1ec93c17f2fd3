/**
 * The store's schema, as numbered migrations applied in order at start, each in its own transaction, recorded in
 * `schema_migrations`. A hub refuses to open a store written by a newer release (its schema has migrations this
 * one does not know), saying so, instead of misreading it.
 *
 * Version 1 is the key-value table of every release before schemas; version 2 adds the document tables
 * (document-tables.ts) and the per-deployment job counters; version 3 moves the records an older release kept in
 * `kv` into their tables and drops the index keys the tables replace.
 */
import { BitEnvoyError } from '../../../lib/errors.js';
import type { SqlDatabase } from './sql-database.js';

export interface Migration {
  version: number;
  name: string;
  up: (db: SqlDatabase) => Promise<void>;
}

/**
 * The DDL of versions 1 and 2. Written for SQLite; the PostgreSQL adapter gets its own text for the few types that
 * differ (TEXT/INTEGER are fine on both; partial indexes exist on both).
 */
const V1_KV = `CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER)`;

const V2_TABLES = `
  CREATE TABLE deployments (
    key TEXT PRIMARY KEY, doc TEXT NOT NULL,
    repository TEXT, environment TEXT, state TEXT, sha TEXT, created_at TEXT, finished_at TEXT, active INTEGER NOT NULL DEFAULT 0,
    batches TEXT, batches_rev INTEGER NOT NULL DEFAULT 0, github_unreported INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX deployments_github_unreported ON deployments (finished_at) WHERE github_unreported = 1;
  CREATE INDEX deployments_by_time ON deployments (created_at, key);
  CREATE INDEX deployments_by_environment ON deployments (repository, environment, created_at);
  CREATE INDEX deployments_successful ON deployments (repository, environment, finished_at) WHERE state = 'success';
  CREATE INDEX deployments_active ON deployments (created_at) WHERE active = 1;

  CREATE TABLE jobs (
    key TEXT PRIMARY KEY, doc TEXT NOT NULL,
    deployment_id TEXT, agent_id TEXT, batch INTEGER, state TEXT, created_at TEXT, finished_at TEXT, lease_expires_at TEXT
  );
  CREATE INDEX jobs_by_deployment ON jobs (deployment_id, state, finished_at, key);
  CREATE INDEX jobs_pending_by_agent ON jobs (agent_id, created_at) WHERE state = 'pending';
  CREATE INDEX jobs_pending_by_age ON jobs (created_at) WHERE state = 'pending';
  CREATE INDEX jobs_by_lease ON jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;

  CREATE TABLE job_counts (
    deployment_id TEXT NOT NULL, batch INTEGER NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, batch, state)
  );

  CREATE TABLE agents (key TEXT PRIMARY KEY, doc TEXT NOT NULL, name TEXT, credential_hash TEXT, last_seen_at TEXT);
  CREATE INDEX agents_by_credential ON agents (credential_hash);
  CREATE INDEX agents_by_last_seen ON agents (last_seen_at);
  CREATE INDEX agents_by_name ON agents (name, key);

  CREATE TABLE audit_entries (key TEXT PRIMARY KEY, doc TEXT NOT NULL, at TEXT, repository TEXT);
  CREATE INDEX audit_by_repository ON audit_entries (repository, key);

  CREATE TABLE log_entries (key TEXT PRIMARY KEY, doc TEXT NOT NULL, job_id TEXT, bytes INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX log_entries_by_job ON log_entries (job_id);

  CREATE TABLE totals (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
`;

/** Index keys of releases before tables: the tables' indexes answer these questions now. */
const OBSOLETE_PREFIXES = ['agent-queue:', 'agent-credential:', 'job-tally:', 'live:'];
const OBSOLETE_KEYS = ['active-deployments'];

/**
 * The migrations, oldest first. `moveRecords` is the store's own write path (so derived columns and counters of
 * moved records are computed exactly as for new ones).
 */
export function migrations(moveRecords: () => void): Migration[] {
  return [
    { version: 1, name: 'key-value table', up: (db) => db.exec(V1_KV) },
    { version: 2, name: 'document tables and job counters', up: (db) => db.exec(V2_TABLES) },
    {
      version: 3,
      name: 'records move from kv into their tables',
      up: async (db) => {
        // Synchronous statements of the same connection, inside this migration's transaction.
        moveRecords();
        for (const prefix of OBSOLETE_PREFIXES) await db.run('DELETE FROM kv WHERE key >= ? AND key < ?', prefix, `${prefix}\uffff`);
        for (const key of OBSOLETE_KEYS) await db.run('DELETE FROM kv WHERE key = ?', key);
      },
    },
  ];
}

/**
 * Applies what is missing, in order; refuses a store whose schema is newer than this release knows.
 *
 * @example
 * await migrate(db, migrations(moveKvRecords));
 */
export async function migrate(db: SqlDatabase, all: Migration[], file: string): Promise<void> {
  await db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const newest = all[all.length - 1]!.version;
  const applied = new Set((await db.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));
  const unknown = [...applied].filter((v) => v > newest).sort((a, b) => a - b);
  if (unknown.length > 0) {
    throw new BitEnvoyError(
      'BE_STORE_NEWER',
      `the store ${file} has schema version ${unknown[unknown.length - 1]}, newer than this BitEnvoy knows (${newest}): a newer release wrote it. Run that release (or newer), or restore a backup made before the upgrade`,
    );
  }
  for (const migration of all) {
    if (applied.has(migration.version)) continue;
    await db.transaction(async (tx) => {
      // Another process may have applied it while this one waited for the write lock.
      if (await tx.get('SELECT version FROM schema_migrations WHERE version = ?', migration.version)) return;
      await migration.up(txDatabase(db, tx));
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', migration.version, migration.name, new Date().toISOString());
    });
  }
}

/** The database seen from inside a transaction: statements go through the transaction, nested ones join it. */
function txDatabase(db: SqlDatabase, tx: Parameters<Parameters<SqlDatabase['transaction']>[0]>[0]): SqlDatabase {
  return {
    dialect: db.dialect,
    all: tx.all,
    get: tx.get,
    run: tx.run,
    exec: async (sql) => {
      for (const statement of sql.split(';').map((s) => s.trim()).filter(Boolean)) await tx.run(statement);
    },
    transaction: async (fn) => fn(tx),
    close: async () => undefined,
  };
}
