/**
 * The store's schema, as numbered migrations applied in order at start, each in its own transaction, recorded in
 * `schema_migrations`. A hub refuses to open a store written by a newer release (its schema has migrations this
 * one does not know), saying so, instead of misreading it.
 *
 * Version 1 is the key-value table of every release before schemas; version 2 adds the document tables
 * (document-tables.ts) and the per-deployment job counters; version 3 moves the records an older release kept in
 * `kv` into their tables and drops the index keys the tables replace; version 4 adds `github_effects`, the outbox of
 * the GitHub side effects other than Deployment statuses (app/github/github-outbox.ts); version 5 adds the claim of
 * an outbox row; version 6 adds the indexes of an environment's status (its rollout in progress, its successes by
 * commit); version 7 an agent's jobs by time; version 8 `releases`, what each server runs now per application (kept by
 * document-writes.ts with every job that succeeds), filled from the jobs already stored; version 9 stripes the job
 * counters and running totals so that writers of different records do not queue on one row.
 */
import { BitEnvoyError } from '../../../lib/errors.js';
import type { SqlDatabase, SqlExecutor } from './sql-database.js';
import { driveAsync, type Steps } from './statement-steps.js';

export interface Migration {
  version: number;
  name: string;
  up: (db: SqlDatabase) => Promise<void>;
}

/**
 * The column types that differ between the dialects. On PostgreSQL every text column compares as bytes
 * (`COLLATE "C"`), as SQLite's do: keys are byte strings, a prefix range `key >= p AND key < p || '\uffff'` and
 * `ORDER BY key` must mean the same on both, whatever the database's locale. Epoch-millisecond and running-total
 * columns are BIGINT there (SQLite's INTEGER is 64-bit already). The SQLite text is what it always was.
 */
function typesOf(dialect: SqlDatabase['dialect']): { text: string; bigint: string } {
  return dialect === 'postgres' ? { text: 'TEXT COLLATE "C"', bigint: 'BIGINT' } : { text: 'TEXT', bigint: 'INTEGER' };
}

/**
 * The column that orders log entries by insertion (the log budget prunes the oldest first): SQLite's implicit rowid,
 * an identity column on PostgreSQL.
 */
export function insertionOrderOf(dialect: SqlDatabase['dialect']): string {
  return dialect === 'postgres' ? 'seq' : 'rowid';
}

const V1_KV = (dialect: SqlDatabase['dialect']): string => {
  const { text, bigint } = typesOf(dialect);
  return `CREATE TABLE IF NOT EXISTS kv (key ${text} PRIMARY KEY, value ${text} NOT NULL, expires ${bigint})`;
};

const V2_TABLES = (dialect: SqlDatabase['dialect']): string => {
  const { text: T, bigint } = typesOf(dialect);
  const pg = dialect === 'postgres';
  return `
  CREATE TABLE deployments (
    key ${T} PRIMARY KEY, doc ${T} NOT NULL,
    repository ${T}, environment ${T}, state ${T}, sha ${T}, created_at ${T}, finished_at ${T}, active INTEGER NOT NULL DEFAULT 0,
    batches ${T}, batches_rev INTEGER NOT NULL DEFAULT 0, github_unreported INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX deployments_github_unreported ON deployments (finished_at) WHERE github_unreported = 1;
  CREATE INDEX deployments_by_time ON deployments (created_at, key);
  CREATE INDEX deployments_by_environment ON deployments (repository, environment, created_at);
  CREATE INDEX deployments_successful ON deployments (repository, environment, finished_at) WHERE state = 'success';
  CREATE INDEX deployments_active ON deployments (created_at) WHERE active = 1;

  CREATE TABLE jobs (
    key ${T} PRIMARY KEY, doc ${T} NOT NULL,
    deployment_id ${T}, agent_id ${T}, batch INTEGER, state ${T}, created_at ${T}, finished_at ${T}, lease_expires_at ${T}
  );
  CREATE INDEX jobs_by_deployment ON jobs (deployment_id, state, finished_at, key);
  CREATE INDEX jobs_pending_by_agent ON jobs (agent_id, created_at) WHERE state = 'pending';
  CREATE INDEX jobs_pending_by_age ON jobs (created_at) WHERE state = 'pending';
  CREATE INDEX jobs_by_lease ON jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;

  CREATE TABLE job_counts (
    deployment_id ${T} NOT NULL, batch INTEGER NOT NULL, state ${T} NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, batch, state)
  );

  CREATE TABLE agents (key ${T} PRIMARY KEY, doc ${T} NOT NULL, name ${T}, credential_hash ${T}, last_seen_at ${T});
  CREATE INDEX agents_by_credential ON agents (credential_hash);
  CREATE INDEX agents_by_last_seen ON agents (last_seen_at);
  CREATE INDEX agents_by_name ON agents (name, key);

  CREATE TABLE audit_entries (key ${T} PRIMARY KEY, doc ${T} NOT NULL, at ${T}, repository ${T});
  CREATE INDEX audit_by_repository ON audit_entries (repository, key);

  CREATE TABLE log_entries (key ${T} PRIMARY KEY, doc ${T} NOT NULL, job_id ${T}, bytes INTEGER NOT NULL DEFAULT 0${pg ? ', seq BIGINT GENERATED ALWAYS AS IDENTITY' : ''});
  CREATE INDEX log_entries_by_job ON log_entries (job_id);${pg ? '\n  CREATE INDEX log_entries_by_seq ON log_entries (seq);' : ''}

  CREATE TABLE totals (name ${T} PRIMARY KEY, n ${bigint} NOT NULL);
`;
};

/**
 * Version 4: one row per GitHub request still owed (a PR reply, a reaction, a config check run), deleted once GitHub
 * took it. `AUTOINCREMENT` (SQLite) keeps ids growing even after the newest row is deleted, so the order of effects
 * is the order of ids; PostgreSQL has no AUTOINCREMENT: there it is `BIGINT GENERATED BY DEFAULT AS IDENTITY` (and
 * BIGINT for installation ids, which SQLite's INTEGER holds as 64-bit already).
 */
const V4_GITHUB_EFFECTS = (dialect: SqlDatabase['dialect']): string => {
  const { text: T, bigint } = typesOf(dialect);
  return `
  CREATE TABLE github_effects (
    id ${dialect === 'postgres' ? 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT'},
    installation_id ${bigint} NOT NULL, route ${T} NOT NULL, params ${T} NOT NULL, created_at ${T} NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at ${T} NOT NULL, last_error ${T}
  );
  CREATE INDEX github_effects_due ON github_effects (next_attempt_at);
  CREATE INDEX github_effects_by_installation ON github_effects (installation_id, id);
`;
};

/**
 * Version 6: the environment's deployments not final yet (one or two, whatever its history), and its successful
 * deployments by commit (a SHA or a prefix of one, as a range).
 */
const V6_ENVIRONMENT_INDEXES = `
  CREATE INDEX deployments_active_by_environment ON deployments (repository, environment, created_at) WHERE active = 1;
  CREATE INDEX deployments_successful_by_sha ON deployments (repository, environment, sha, finished_at) WHERE state = 'success';
`;

/** Version 7: an agent's jobs newest first (the agents page: what a server ran lately), whatever its history. */
const V7_JOBS_BY_AGENT = `
  CREATE INDEX jobs_by_agent ON jobs (agent_id, created_at, key);
`;

/**
 * Version 8: per repository, environment and server (agent), the release it runs now — the newest job that succeeded
 * there (document-writes.ts keeps it with the job's own write). `job_created_at` orders releases: a row only ever
 * moves to a job created later (see recordRelease). Indexes: an environment's servers by commit (drift counts) and an
 * agent's releases (its page); the primary key pages an environment's servers by agent id.
 */
const V8_RELEASES = (dialect: SqlDatabase['dialect']): string => {
  const { text: T } = typesOf(dialect);
  return `
  CREATE TABLE releases (
    repository ${T} NOT NULL, environment ${T} NOT NULL, agent_id ${T} NOT NULL,
    sha ${T} NOT NULL, deployment_id ${T} NOT NULL, job_id ${T} NOT NULL, job_created_at ${T} NOT NULL, at ${T} NOT NULL,
    PRIMARY KEY (repository, environment, agent_id)
  );
  CREATE INDEX releases_by_sha ON releases (repository, environment, sha);
  CREATE INDEX releases_by_agent ON releases (agent_id, repository, environment);
`;
};

/**
 * Version 8's backfill, one statement: per repository, environment and enrolled agent, its newest succeeded job (by
 * the job's creation time, then key: the order the write path keeps), the repository, environment and commit read
 * from the job's deployment (a pruned deployment's jobs went with it).
 */
const V8_BACKFILL = `
  INSERT INTO releases (repository, environment, agent_id, sha, deployment_id, job_id, job_created_at, at)
  SELECT repository, environment, agent_id, sha, deployment_id, job_id, job_created_at, at FROM (
    SELECT d.repository AS repository, d.environment AS environment, j.agent_id AS agent_id, d.sha AS sha, j.deployment_id AS deployment_id,
      substr(j.key, 5) AS job_id, j.created_at AS job_created_at, COALESCE(j.finished_at, j.created_at) AS at,
      ROW_NUMBER() OVER (PARTITION BY d.repository, d.environment, j.agent_id ORDER BY j.created_at DESC, j.key DESC) AS n
    FROM jobs j JOIN deployments d ON d.key = 'deployment:' || j.deployment_id
    WHERE j.state = 'succeeded' AND j.agent_id IS NOT NULL AND j.created_at IS NOT NULL
      AND d.repository IS NOT NULL AND d.environment IS NOT NULL AND d.sha IS NOT NULL
      AND EXISTS (SELECT 1 FROM agents a WHERE a.key = 'agent:' || j.agent_id)
  ) newest WHERE n = 1`;

/**
 * Version 9: the job counters and running totals striped. Every job of a rollout moves between the same few counter
 * rows, and every log write adds to one total: on PostgreSQL each such row is locked until its transaction commits,
 * so 10,000 servers ending at once took turns on one row (measured: 70 ms of waiting per job end at 2,000 servers).
 * A write now touches the stripe its record's key falls in (document-writes.ts `stripeOf`), and readers add the
 * stripes up (a stripe alone may be negative: a job counted in stripe 0 here leaves from its own stripe later). The
 * counts are built again from the records themselves, into stripe 0: migration 3 moved records without counting them.
 */
const V9_STRIPED_COUNTERS = (dialect: SqlDatabase['dialect']): string => {
  const { text: T, bigint } = typesOf(dialect);
  return `
  CREATE TABLE job_counts_striped (
    deployment_id ${T} NOT NULL, batch INTEGER NOT NULL, state ${T} NOT NULL, stripe INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, batch, state, stripe)
  );
  INSERT INTO job_counts_striped (deployment_id, batch, state, stripe, n)
    SELECT deployment_id, batch, state, 0, COUNT(*) FROM jobs WHERE deployment_id IS NOT NULL AND batch IS NOT NULL AND state IS NOT NULL GROUP BY deployment_id, batch, state;
  DROP TABLE job_counts;
  ALTER TABLE job_counts_striped RENAME TO job_counts;
  CREATE TABLE totals_striped (name ${T} NOT NULL, stripe INTEGER NOT NULL, n ${bigint} NOT NULL, PRIMARY KEY (name, stripe));
  INSERT INTO totals_striped (name, stripe, n) SELECT 'log_bytes', 0, SUM(bytes) FROM log_entries HAVING COUNT(*) > 0;
  INSERT INTO totals_striped (name, stripe, n) SELECT 'agents', 0, COUNT(*) FROM agents HAVING COUNT(*) > 0;
  DROP TABLE totals;
  ALTER TABLE totals_striped RENAME TO totals;
`;
};

// The new index is built before the old one is dropped: dropping locks the table, and only for a moment this way.
const V10_PENDING_BY_AGE = `
  CREATE INDEX jobs_pending_by_age_and_key ON jobs (created_at, key) WHERE state = 'pending';
  DROP INDEX jobs_pending_by_age;
`;

/** Index keys of releases before tables: the tables' indexes answer these questions now. */
const OBSOLETE_PREFIXES = ['agent-queue:', 'agent-credential:', 'job-tally:', 'live:'];
const OBSOLETE_KEYS = ['active-deployments'];

/**
 * The migrations, oldest first. `moveRecords` is the store's own write path (so derived columns and counters of
 * moved records are computed exactly as for new ones).
 */
export function migrations(moveRecords: () => Steps<void>): Migration[] {
  return [
    { version: 1, name: 'key-value table', up: (db) => db.exec(V1_KV(db.dialect)) },
    { version: 2, name: 'document tables and job counters', up: (db) => db.exec(V2_TABLES(db.dialect)) },
    {
      version: 3,
      name: 'records move from kv into their tables',
      up: async (db) => {
        // Inside this migration's transaction (on SQLite, synchronous statements of the same connection).
        await db.transactionSteps(moveRecords);
        for (const prefix of OBSOLETE_PREFIXES) await db.run('DELETE FROM kv WHERE key >= ? AND key < ?', prefix, `${prefix}\uffff`);
        for (const key of OBSOLETE_KEYS) await db.run('DELETE FROM kv WHERE key = ?', key);
      },
    },
    { version: 4, name: 'GitHub effects outbox', up: (db) => db.exec(V4_GITHUB_EFFECTS(db.dialect)) },
    // Hub replicas claim an effect before sending it (github-outbox.ts): until when, if anyone holds it.
    { version: 5, name: 'GitHub effects claimed by one sender', up: (db) => db.exec(`ALTER TABLE github_effects ADD COLUMN claimed_until ${typesOf(db.dialect).text}`) },
    // `bitenvoy status` and `bitenvoy rollback --to`: an environment's rollout in progress, and its successes of one
    // commit, each read from its own index however long the environment's history.
    { version: 6, name: 'environment status indexes', up: (db) => db.exec(V6_ENVIRONMENT_INDEXES) },
    { version: 7, name: 'jobs by agent', up: (db) => db.exec(V7_JOBS_BY_AGENT) },
    {
      version: 8,
      name: 'what each server runs now',
      up: async (db) => {
        await db.exec(V8_RELEASES(db.dialect));
        await db.run(V8_BACKFILL);
      },
    },
    {
      version: 9,
      name: 'striped job counters and totals',
      up: (db) => db.exec(V9_STRIPED_COUNTERS(db.dialect)),
    },
    // The job watcher (replicas) reads pending jobs a page at a time in (creation time, key) order: a batch's 10,000
    // jobs share one creation time, and a page after a full one starts after its last key, read from the index.
    { version: 10, name: 'pending jobs by age and key', up: (db) => db.exec(V10_PENDING_BY_AGE) },
  ];
}

/** The schema version this release runs (its newest migration): every replica of a fleet must run the same. */
export function schemaVersion(): number {
  return Math.max(...migrations(function* () {}).map((m) => m.version));
}

/**
 * Taken by every migration transaction on PostgreSQL (`pg_advisory_xact_lock`): two hubs starting at once on one
 * database migrate once, the second waiting and then finding the work done. (SQLite's write lock does the same.)
 */
const MIGRATION_LOCK = 0x42456e766f79; // "BEnvoy"

async function lockMigrations(db: SqlDatabase, tx: SqlExecutor): Promise<void> {
  if (db.dialect === 'postgres') await tx.get(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
}

/**
 * Applies what is missing, in order; refuses a store whose schema is newer than this release knows. `where` names
 * the store in messages (a file, or a URL without its password).
 *
 * @example
 * await migrate(db, migrations(moveKvRecords), '/var/lib/bitenvoy/hub.sqlite');
 */
export async function migrate(db: SqlDatabase, all: Migration[], where: string): Promise<void> {
  const create = 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)';
  if (db.dialect === 'postgres') {
    // Two hubs creating it at once would collide in PostgreSQL's catalog: under the lock.
    await db.transaction(async (tx) => {
      await lockMigrations(db, tx);
      await tx.run(create);
    });
  } else {
    // No write transaction when it exists: a second connection of this process (the CLI, a test) opening a migrated
    // file must not hold the file's lock across an await while the first one writes.
    await db.exec(create);
  }
  const newest = all[all.length - 1]!.version;
  const applied = new Set((await db.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));
  const unknown = [...applied].filter((v) => v > newest).sort((a, b) => a - b);
  if (unknown.length > 0) {
    throw new BitEnvoyError(
      'BE_STORE_NEWER',
      `the store ${where} has schema version ${unknown[unknown.length - 1]}, newer than this BitEnvoy knows (${newest}): a newer release wrote it. Run that release (or newer), or restore a backup made before the upgrade`,
    );
  }
  for (const migration of all) {
    if (applied.has(migration.version)) continue;
    await db.transaction(async (tx) => {
      await lockMigrations(db, tx);
      // Another process may have applied it while this one waited for the write lock.
      if (await tx.get('SELECT version FROM schema_migrations WHERE version = ?', migration.version)) return;
      await migration.up(txDatabase(db, tx));
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', migration.version, migration.name, new Date().toISOString());
    });
  }
}

/** The database seen from inside a transaction: statements go through the transaction, nested ones join it. */
function txDatabase(db: SqlDatabase, tx: SqlExecutor): SqlDatabase {
  return {
    dialect: db.dialect,
    all: tx.all,
    get: tx.get,
    run: tx.run,
    exec: async (sql) => {
      for (const statement of sql.split(';').map((s) => s.trim()).filter(Boolean)) await tx.run(statement);
    },
    transaction: async (fn) => fn(tx),
    // Locked reads are plain reads here: the migration has the store to itself (SQLite's write lock; on PostgreSQL a
    // store this release created, where migration 3 finds no kv records to move).
    transactionSteps: async (steps) => driveAsync(tx, steps()),
    close: async () => undefined,
  };
}
