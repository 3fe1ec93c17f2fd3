/**
 * The store's tests run on both backends: `describe.each(STORE_BACKENDS)` and, inside, `useStoreBackend(backend)`
 * gives each test a fresh, migrated store — SQLite: a file in a new temp dir; PostgreSQL: a database
 * `bitenvoy_test_<random>` made for the test file on BITENVOY_TEST_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres), emptied before each test and dropped after the file. The database
 * gets an ICU `en-US` collation where the server has ICU, so a text column that forgot `COLLATE "C"` orders keys
 * differently and a test sees it.
 *
 * PostgreSQL unreachable: its tests are skipped with the reason printed; with `CI=true` the file fails instead (CI
 * must really test it).
 *
 * @example
 * describe.each(STORE_BACKENDS)('on $name', (backend) => {
 *   const stores = useStoreBackend(backend);
 *   it('…', async () => { await stores.store.set('agent:1', {}); });
 * });
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { openStore } from '../../app/store/open-store.js';
import type { SqlStore } from '../../app/store/sql-store.js';
import type { DatabaseSettings } from '../../app/store/sql/pg-connection.js';

export const TEST_DATABASE_URL = process.env.BITENVOY_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** Why this backend's tests are skipped (PostgreSQL not reachable). */
  unavailable?: string;
}

/** Whether PostgreSQL answers, asked once per test file; fails the file on CI when it does not. */
const pgProblem = await probePostgres();
if (pgProblem && process.env.CI === 'true') {
  throw new Error(`PostgreSQL is not reachable at ${withoutPassword(TEST_DATABASE_URL)} (${pgProblem}), and CI=true: the store's tests must run on it. .ci/run starts it; set BITENVOY_TEST_DATABASE_URL if it runs elsewhere`);
}
if (pgProblem) console.warn(`store tests on PostgreSQL skipped: ${withoutPassword(TEST_DATABASE_URL)} is not reachable (${pgProblem}); set BITENVOY_TEST_DATABASE_URL or start PostgreSQL`);

export const STORE_BACKENDS: StoreBackend[] = [{ name: 'sqlite' }, { name: 'postgres', ...(pgProblem ? { unavailable: pgProblem } : {}) }];

export interface StoreBackendHandle {
  /** The fresh store of the running test (opened before it, closed after it). */
  readonly store: SqlStore;
  /** What openStore takes to reach the test's store: its data dir and, on PostgreSQL, its database. */
  readonly options: { dataDir: string; database?: DatabaseSettings };
  /** Another store on the same data (a second connection, or a second hub process on one database). */
  open(): Promise<SqlStore>;
  /** The database's name (PostgreSQL), for tests that talk to the server directly. */
  readonly databaseName: string | undefined;
}

/** Registers the hooks that give each test of the enclosing `describe` a fresh store on `backend`. */
export function useStoreBackend(backend: StoreBackend): StoreBackendHandle {
  let database: string | undefined;
  let dataDir = '';
  let store: SqlStore | undefined;
  const extra: SqlStore[] = [];
  const options = () => ({ dataDir, ...(database ? { database: { url: databaseUrl(database) } } : {}) });

  beforeAll(async () => {
    if (backend.name !== 'postgres' || backend.unavailable) return;
    database = `bitenvoy_test_${randomBytes(6).toString('hex')}`;
    await createTestDatabase(database);
  });
  afterAll(async () => {
    if (database) await dropTestDatabase(database);
  });
  beforeEach(async (ctx) => {
    if (backend.unavailable) ctx.skip(`PostgreSQL is not reachable: ${backend.unavailable}`);
    dataDir = await mkdtemp(join(tmpdir(), `bitenvoy-store-${backend.name}-`));
    if (database) await emptyDatabase(database);
    store = await openStore(options());
  });
  afterEach(async () => {
    for (const other of extra.splice(0)) await other.close();
    await store?.close();
    store = undefined;
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  return {
    get store() {
      if (!store) throw new Error('the store exists only while a test runs');
      return store;
    },
    get options() {
      return options();
    },
    get databaseName() {
      return database;
    },
    async open() {
      const other = await openStore(options());
      extra.push(other);
      return other;
    },
  };
}

/** The URL of database `name` on the test server. */
export function databaseUrl(name: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs `fn` with a client connected to the test server's admin database (or to `database`). */
export async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T> {
  const client = new pg.Client({ connectionString: database ? databaseUrl(database) : TEST_DATABASE_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A new database for a test file, with a locale that orders text unlike bytes (ICU en-US) when the server has ICU:
 * `'a_b' < 'a-b' < 'aB' < 'ab'` there, `'a-b' < 'aB' < 'a_b' < 'ab'` in bytes.
 */
export async function createTestDatabase(name: string): Promise<void> {
  await withAdminClient(async (client) => {
    const icu = (await client.query("SELECT 1 FROM pg_collation WHERE collname = 'en-US-x-icu'")).rowCount;
    const major = Math.floor((await client.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v")).rows[0]!.v / 10_000);
    if (icu && major >= 15) {
      await client.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
    } else {
      await client.query(`CREATE DATABASE ${name}`);
    }
  });
}

export async function dropTestDatabase(name: string): Promise<void> {
  await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** Every table gone: the next store opened on it migrates an empty database. */
async function emptyDatabase(name: string): Promise<void> {
  await withAdminClient((client) => client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public'), name);
}

async function probePostgres(): Promise<string | undefined> {
  try {
    await withAdminClient((client) => client.query('SELECT 1'));
    return undefined;
  } catch (err) {
    return (err as Error).message || (err as NodeJS.ErrnoException).code || String(err);
  }
}

function withoutPassword(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
