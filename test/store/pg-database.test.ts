/**
 * The PostgreSQL database under the store: `?` placeholders numbered outside quoted text, counts as numbers,
 * transactions on one client (nested ones joining), and every way of not reaching the database answered with what was
 * wrong and how to fix it — never with the password. Settings mistakes stop the hub before it connects.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readHubSettings } from '../../app/hub-settings.js';
import { openPgDatabase, type PgDatabase } from '../../app/store/sql/pg-database.js';
import { parseDatabaseUrl, pgPoolConfig } from '../../app/store/sql/pg-connection.js';
import { toPgPlaceholders, withLiterals } from '../../app/store/sql/pg-placeholders.js';
import { get, getLocked, run, together } from '../../app/store/sql/statement-steps.js';
import { createTestDatabase, databaseUrl, dropTestDatabase, STORE_BACKENDS, TEST_DATABASE_URL, withAdminClient } from '../helpers/store-backends.js';

const postgres = STORE_BACKENDS.find((b) => b.name === 'postgres')!;
const PASSWORD = 'pw-Zq8-never-shown';

describe('placeholders', () => {
  it.each([
    ['SELECT key FROM kv WHERE key = ? AND expires < ?', 'SELECT key FROM kv WHERE key = $1 AND expires < $2'],
    ["SELECT '?' AS q, ? AS p, 'it''s ?' AS s", "SELECT '?' AS q, $1 AS p, 'it''s ?' AS s"],
    ['SELECT "odd?name" FROM t WHERE a = ?', 'SELECT "odd?name" FROM t WHERE a = $1'],
    ["SELECT E'\\'?' , ?", "SELECT E'\\'?' , $1"],
    ['SELECT ? -- a comment?\n, ?', 'SELECT $1 -- a comment?\n, $2'],
    ['SELECT /* what? */ ?', 'SELECT /* what? */ $1'],
    ['SELECT $tag$ ? $tag$, ?', 'SELECT $tag$ ? $tag$, $1'],
    ["UPDATE agents SET doc = jsonb_set(doc::jsonb, '{lastSeenAt}', to_jsonb(?::text))::text WHERE key = ?", "UPDATE agents SET doc = jsonb_set(doc::jsonb, '{lastSeenAt}', to_jsonb($1::text))::text WHERE key = $2"],
  ])('%s', (sql, expected) => {
    expect(toPgPlaceholders(sql)).toBe(expected);
  });
});

describe('values written as literals', () => {
  it.each([
    ['quotes each value, numbers too, and NULL', 'SELECT ? AS a, ? AS b, ? AS c', ['x', 42, null], "SELECT 'x' AS a, '42' AS b, NULL AS c"],
    ['doubles quotes', 'SELECT ?', ["it's"], "SELECT 'it''s'"],
    ['doubles backslashes in an E string', 'SELECT ?', ['a\\b\'c'], "SELECT E'a\\\\b''c'"],
    ['leaves `?` in quoted text and comments alone', "SELECT '?', ? /* ? */ -- ?\n, ?", ['$1', '?'], "SELECT '?', '$1' /* ? */ -- ?\n, '?'"],
    ['writes a bigint', 'SELECT ?', [2n ** 70n], `SELECT '${2n ** 70n}'`],
  ])('%s', (_what, sql, values, expected) => {
    expect(withLiterals(sql, values as Array<string | number | bigint | null>)).toBe(expected);
  });

  it.each([
    ['bytes', 'SELECT ?', [new Uint8Array([1])]],
    ['text holding NUL (it would end the message)', 'SELECT ?', ['a\0b']],
    ['too few values', 'SELECT ?, ?', ['a']],
    ['too many values', 'SELECT ?', ['a', 'b']],
  ])('cannot write %s', (_what, sql, values) => {
    expect(withLiterals(sql, values as Array<string | Uint8Array>)).toBeUndefined();
  });
});

describe('settings', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bitenvoy-pg-settings-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it.each([
    ['not a URL', 'postgres://user:pass word@', 'BITENVOY_DATABASE_URL is not a URL (not shown: it may hold a password): expected postgres://USER@HOST:PORT/DATABASE (the password in BITENVOY_DATABASE_PASSWORD_FILE)'],
    ['another scheme', 'mysql://db/hub', 'BITENVOY_DATABASE_URL=mysql://db/hub: expected a postgres:// URL (postgres://USER@HOST:PORT/DATABASE); without it the hub keeps its store in SQLite under BITENVOY_DATA_DIR'],
    [
      'an sslmode BitEnvoy does not take',
      `postgres://u:${PASSWORD}@db/hub?sslmode=prefer`,
      "BITENVOY_DATABASE_URL=postgres://***@db/hub?sslmode=prefer: sslmode=prefer is not one BitEnvoy takes; use sslmode=verify-full (TLS, the server's certificate and name checked), verify-ca, require (TLS, nothing checked) or disable",
    ],
    ['an unknown parameter', 'postgres://db/hub?sslmod=require', 'BITENVOY_DATABASE_URL=postgres://db/hub?sslmod=require: unknown parameter `sslmod`; BitEnvoy takes `sslmode`, `host`, `application_name`, `connect_timeout`'],
  ])('refuses %s, saying what to write', (_what, url, message) => {
    expect(() => readHubSettings({ BITENVOY_DATABASE_URL: url, BITENVOY_ADMIN_TOKEN: 't', BITENVOY_DATA_DIR: dir })).toThrow(message);
    expect(() => parseDatabaseUrl(url)).toThrow(expect.objectContaining({ code: 'BE_USAGE' }));
  });

  it("reads the store's settings with the hub's: PostgreSQL with a URL, SQLite without", () => {
    const env = { BITENVOY_ADMIN_TOKEN: 't', BITENVOY_DATA_DIR: dir };
    const url = 'postgres://bitenvoy@db.internal/hub?sslmode=verify-full';
    expect(readHubSettings({ ...env, BITENVOY_DATABASE_URL: url, BITENVOY_DATABASE_CA_FILE: '/etc/bitenvoy/pg-ca.pem', BITENVOY_DATABASE_PASSWORD_FILE: '/run/secrets/pg' }).database).toEqual({
      url,
      caFile: '/etc/bitenvoy/pg-ca.pem',
      passwordFile: '/run/secrets/pg',
    });
    expect(readHubSettings(env).database).toBeUndefined();
  });

  it('refuses a CA or password file without a URL, and a CA file without TLS', async () => {
    expect(() => readHubSettings({ BITENVOY_DATABASE_PASSWORD_FILE: '/run/secrets/pg', BITENVOY_ADMIN_TOKEN: 't', BITENVOY_DATA_DIR: dir })).toThrow(
      'BITENVOY_DATABASE_PASSWORD_FILE is set but BITENVOY_DATABASE_URL is not: set BITENVOY_DATABASE_URL=postgres://USER@HOST:PORT/DATABASE to use PostgreSQL, or unset BITENVOY_DATABASE_PASSWORD_FILE',
    );
    const ca = join(dir, 'ca.pem');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(() => pgPoolConfig({ url: 'postgres://db/hub', caFile: ca })).toThrow(
      'BITENVOY_DATABASE_CA_FILE is set but BITENVOY_DATABASE_URL does not ask for TLS: add ?sslmode=verify-full to the URL (or unset BITENVOY_DATABASE_CA_FILE)',
    );
    expect(pgPoolConfig({ url: 'postgres://db/hub?sslmode=verify-full', caFile: ca }).config.ssl).toEqual({ ca: expect.stringContaining('BEGIN CERTIFICATE') });
    expect(pgPoolConfig({ url: 'postgres://db/hub?sslmode=require' }).config.ssl).toEqual({ rejectUnauthorized: false });
  });

  it('takes the password from its file (without the newline an editor adds), over one in the URL', async () => {
    const file = join(dir, 'password');
    await writeFile(file, `${PASSWORD}\n`, { mode: 0o600 });
    const { config, where } = pgPoolConfig({ url: 'postgres://bitenvoy:other@db.internal:6543/hub', passwordFile: file });
    expect(config).toMatchObject({ host: 'db.internal', port: 6543, user: 'bitenvoy', database: 'hub', password: PASSWORD, ssl: false });
    expect(where.display).toBe('postgres://bitenvoy@db.internal:6543/hub');
    expect(() => pgPoolConfig({ url: 'postgres://db/hub', passwordFile: join(dir, 'missing') })).toThrow(
      `BITENVOY_DATABASE_PASSWORD_FILE=${join(dir, 'missing')}: cannot read it (ENOENT); point it at a file that holds only the database password, readable by the hub's user`,
    );
  });
});

describe.skipIf(postgres.unavailable !== undefined)('on a PostgreSQL server', () => {
  const database = `bitenvoy_test_db_${process.pid}_${Date.now().toString(36)}`;
  const server = new URL(TEST_DATABASE_URL);
  const at = `${server.hostname}:${server.port || 5432}`;
  let db: PgDatabase;
  beforeAll(async () => {
    await createTestDatabase(database);
    db = await openPgDatabase({ url: databaseUrl(database) });
  });
  afterAll(async () => {
    await db?.close();
    await dropTestDatabase(database);
  });
  afterEach(async () => {
    await db.exec('DROP TABLE IF EXISTS t');
  });

  /** The test server's URL for `database`, with a user and password of our choosing (the server may not check it). */
  function urlWith(options: { port?: number; database?: string; user?: string; password?: string; query?: string }): string {
    const url = new URL(databaseUrl(options.database ?? database));
    if (options.port) url.port = String(options.port);
    if (options.user) url.username = options.user;
    if (options.password) url.password = options.password;
    if (options.query) url.search = options.query;
    return url.toString();
  }

  async function closedPort(): Promise<number> {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    return port;
  }

  async function refusal(url: string): Promise<Error & { code?: string }> {
    const err = await openPgDatabase({ url }).then(
      async (opened) => {
        await opened.close();
        throw new Error(`${url} opened`);
      },
      (e: unknown) => e as Error & { code?: string },
    );
    // The password is nowhere in what a person or a log sees.
    expect(`${err.message} ${String(err)} ${JSON.stringify(err)} ${String(err.cause)} ${err.stack}`).not.toContain(PASSWORD);
    return err;
  }

  it('answers counts and sums as numbers, and runs `?` statements', async () => {
    await db.exec('CREATE TABLE t (k TEXT COLLATE "C" PRIMARY KEY, n BIGINT)');
    await db.run('INSERT INTO t (k, n) VALUES (?, ?), (?, ?)', 'a', 2 ** 40, 'b', 1);
    expect(await db.get('SELECT COUNT(*) AS c, SUM(n) AS s, MAX(n) AS m FROM t WHERE k <> ?', '?')).toEqual({ c: 2, s: 2 ** 40 + 1, m: 2 ** 40 });
    expect((await db.run('DELETE FROM t WHERE k = ?', 'b')).changes).toBe(1);
  });

  it('commits a transaction, rolls it back when it throws, and joins nested ones to the outer one', async () => {
    await db.exec('CREATE TABLE t (k TEXT COLLATE "C" PRIMARY KEY)');
    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO t (k) VALUES (?)', 'kept');
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t (k) VALUES (?)', 'outer');
        await db.transaction(async (inner) => inner.run('INSERT INTO t (k) VALUES (?)', 'inner'));
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await db.all('SELECT k FROM t ORDER BY k')).toEqual([{ k: 'kept' }]);
  });

  it('stores any text exactly through statements sent with BEGIN or COMMIT as literals', async () => {
    await db.exec('CREATE TABLE t (k TEXT COLLATE "C" PRIMARY KEY, v TEXT, n INTEGER)');
    const awkward = ["it's", 'back\\slash\\', "E'\\''", '$1 ? $$ $tag$', '-- /* ', 'ünïcødé ☃ 𝄞', '\n\t\r', "'; DROP TABLE t; --"];
    for (const [i, v] of awkward.entries()) {
      await db.transactionSteps(function* () {
        const row = yield* getLocked<{ k: string }>('SELECT k FROM t WHERE k = ?', `k${i}'`);
        yield* together([{ sql: 'INSERT INTO t (k, v, n) VALUES (?, ?, ?)', params: [`k${i}'`, v, row ? -1 : i] }], { last: true });
      });
    }
    expect(await db.all('SELECT k, v, n FROM t ORDER BY n')).toEqual(awkward.map((v, i) => ({ k: `k${i}'`, v, n: i })));
  });

  it('runs a write again when it lost a deadlock to another one, from a fresh generator', async () => {
    await db.exec("CREATE TABLE t (key TEXT COLLATE \"C\" PRIMARY KEY, n INTEGER); INSERT INTO t VALUES ('k1', 0), ('k2', 0)");
    let runs = 0;
    // Each takes one row, waits, then wants the other's: PostgreSQL ends one of them (deadlock_detected).
    const crosswise = (first: string, second: string) =>
      db.transactionSteps(function* () {
        runs += 1;
        yield* getLocked('SELECT key FROM t WHERE key = ?', first);
        yield* get('SELECT pg_sleep(0.2)');
        yield* getLocked('SELECT key FROM t WHERE key = ?', second);
        yield* run('UPDATE t SET n = n + 1 WHERE key IN (?, ?)', first, second);
        return first;
      });
    expect(await Promise.all([crosswise('k1', 'k2'), crosswise('k2', 'k1')])).toEqual(['k1', 'k2']);
    expect(runs).toBe(3);
    expect(await db.all('SELECT key, n FROM t ORDER BY key')).toEqual([
      { key: 'k1', n: 2 },
      { key: 'k2', n: 2 },
    ]);
  });

  it('survives the server ending a connection mid-transaction: that write fails with the reason, the next one runs', async () => {
    await db.exec('CREATE TABLE t (k TEXT COLLATE "C" PRIMARY KEY)');
    const cut = db.transaction(async (tx) => {
      const { pid } = (await tx.get<{ pid: number }>('SELECT pg_backend_pid() AS pid'))!;
      await withAdminClient((admin) => admin.query('SELECT pg_terminate_backend($1)', [pid]));
      // The server's goodbye arrives between two statements (an 'error' event on the client, not on a query).
      await new Promise((resolve) => setTimeout(resolve, 200));
      await tx.run('INSERT INTO t (k) VALUES (?)', 'lost');
    });
    await expect(cut).rejects.toMatchObject({ code: 'BE_STORE_UNAVAILABLE', message: expect.stringMatching(new RegExp(`^the connection to PostgreSQL at ${at} was cut \\(.+\\): the hub reconnects on the next request`)) });
    await db.transaction(async (tx) => tx.run('INSERT INTO t (k) VALUES (?)', 'next'));
    expect(await db.all('SELECT k FROM t')).toEqual([{ k: 'next' }]);
  });

  it('says where it could not connect, and what to check', async () => {
    const port = await closedPort();
    const err = await refusal(urlWith({ port, password: PASSWORD }));
    expect(err).toMatchObject({ code: 'BE_STORE_UNAVAILABLE' });
    expect(err.message).toBe(
      `cannot connect to PostgreSQL at ${server.hostname}:${port} (ECONNREFUSED): is PostgreSQL running there, and is BITENVOY_DATABASE_URL (postgres://postgres@${server.hostname}:${port}/${database}) right?`,
    );
  });

  it('names a database that does not exist, and how to create it', async () => {
    const err = await refusal(urlWith({ database: 'bitenvoy_no_such_db', password: PASSWORD }));
    expect(err.message).toBe(
      `database "bitenvoy_no_such_db" does not exist on PostgreSQL at ${at}: create it (\`createdb -h ${server.hostname} -p ${server.port || 5432} -U postgres bitenvoy_no_such_db\`) or correct the database name in BITENVOY_DATABASE_URL`,
    );
  });

  it('names a user the server does not let in', async () => {
    const err = await refusal(urlWith({ user: 'bitenvoy_nobody', password: PASSWORD }));
    expect(err.message).toMatch(new RegExp(`^PostgreSQL at ${at} does not let user "bitenvoy_nobody" connect to database "${database}" \\(.*\\): check the user in BITENVOY_DATABASE_URL, and pg_hba.conf on the server$`));
  });

  it('says when the server offers no TLS but the URL asks for it', async () => {
    const ssl = (await db.get<{ ssl: string }>('SHOW ssl'))!.ssl;
    if (ssl === 'on') return; // This server has TLS: the case cannot happen here.
    const err = await refusal(urlWith({ password: PASSWORD, query: '?sslmode=require' }));
    expect(err.message).toBe(`PostgreSQL at ${at} does not offer TLS, but BITENVOY_DATABASE_URL asks for sslmode=require: turn on \`ssl\` in the server's postgresql.conf, or use sslmode=disable on a trusted network`);
  });
});
