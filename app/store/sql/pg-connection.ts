/**
 * Where the PostgreSQL store is and how to reach it: `BITENVOY_DATABASE_URL` (`postgres://USER@HOST:PORT/DATABASE`,
 * with `sslmode=disable|require|verify-ca|verify-full`), `BITENVOY_DATABASE_CA_FILE` (a private CA for the server's
 * certificate) and `BITENVOY_DATABASE_PASSWORD_FILE` (the password, kept out of the URL and the environment). And
 * what a failure to connect means, in a sentence with the fix — never with the password.
 *
 * @example
 * const { config, where } = pgPoolConfig({ url: 'postgres://bitenvoy@db.internal:5432/bitenvoy?sslmode=verify-full', passwordFile: '/run/secrets/pg' });
 * // where.display === 'postgres://bitenvoy@db.internal:5432/bitenvoy'
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import type { PoolConfig } from 'pg';
import { BitEnvoyError } from '../../../lib/errors.js';
import { withoutCredentials } from '../../../lib/redact-url.js';

/** The PostgreSQL store's settings, as the hub reads them from its environment. */
export interface DatabaseSettings {
  /** `BITENVOY_DATABASE_URL`. */
  url: string;
  /** `BITENVOY_DATABASE_CA_FILE`: PEM file of the CA that signed the server's certificate. */
  caFile?: string;
  /** `BITENVOY_DATABASE_PASSWORD_FILE`: a file holding only the password. */
  passwordFile?: string;
}

const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
type SslMode = (typeof SSL_MODES)[number];

/** The URL's parts, and how to show it: no password, ever. */
export interface DatabaseLocation {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  sslmode: SslMode;
  applicationName: string;
  connectTimeoutSeconds: number;
  /** `postgres://USER@HOST:PORT/DATABASE`, for logs and messages. */
  display: string;
}

const QUERY_PARAMETERS = ['sslmode', 'host', 'application_name', 'connect_timeout'];

/**
 * Reads `BITENVOY_DATABASE_URL`; a URL that is not one BitEnvoy can use stops the hub with what to write instead.
 *
 * @example
 * parseDatabaseUrl('postgresql://bitenvoy:s3cret@10.0.0.5/hub?sslmode=require').display; // 'postgres://bitenvoy@10.0.0.5:5432/hub'
 */
export function parseDatabaseUrl(url: string): DatabaseLocation {
  const shown = withoutCredentials(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usage(`BITENVOY_DATABASE_URL is not a URL (not shown: it may hold a password): expected postgres://USER@HOST:PORT/DATABASE (the password in BITENVOY_DATABASE_PASSWORD_FILE)`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw usage(`BITENVOY_DATABASE_URL=${shown}: expected a postgres:// URL (postgres://USER@HOST:PORT/DATABASE); without it the hub keeps its store in SQLite under BITENVOY_DATA_DIR`);
  }
  const unknown = [...parsed.searchParams.keys()].filter((name) => !QUERY_PARAMETERS.includes(name));
  if (unknown.length > 0) throw usage(`BITENVOY_DATABASE_URL=${shown}: unknown parameter ${unknown.map((n) => `\`${n}\``).join(', ')}; BitEnvoy takes ${QUERY_PARAMETERS.map((n) => `\`${n}\``).join(', ')}`);
  const sslmode = parsed.searchParams.get('sslmode') ?? 'disable';
  if (!SSL_MODES.includes(sslmode as SslMode)) {
    throw usage(`BITENVOY_DATABASE_URL=${shown}: sslmode=${sslmode} is not one BitEnvoy takes; use sslmode=verify-full (TLS, the server's certificate and name checked), verify-ca, require (TLS, nothing checked) or disable`);
  }
  const host = parsed.searchParams.get('host') || parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw usage(`BITENVOY_DATABASE_URL=${shown} names no host: expected postgres://USER@HOST:PORT/DATABASE (or ?host=/path/of/the/socket/folder)`);
  const port = parsed.port ? Number(parsed.port) : 5432;
  const user = decodeURIComponent(parsed.username) || userInfo().username;
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || user;
  const timeout = parsed.searchParams.get('connect_timeout') ?? '10';
  if (!/^\d{1,4}$/.test(timeout)) throw usage(`BITENVOY_DATABASE_URL=${shown}: connect_timeout=${timeout}: expected a whole number of seconds, e.g. 10`);
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  const hostPart = host.startsWith('/') ? `localhost:${port}` : `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    host,
    port,
    database,
    user,
    ...(password ? { password } : {}),
    sslmode: sslmode as SslMode,
    applicationName: parsed.searchParams.get('application_name') || 'bitenvoy-hub',
    connectTimeoutSeconds: Number(timeout),
    display: `postgres://${encodeURIComponent(user)}@${hostPart}/${encodeURIComponent(database)}${host.startsWith('/') ? `?host=${host}` : ''}`,
  };
}

/**
 * The `pg.Pool` settings for the store: the URL's parts, the password file (it wins over a password in the URL) and
 * TLS as `sslmode` asks, checked against the CA file when there is one.
 */
export function pgPoolConfig(settings: DatabaseSettings): { config: PoolConfig; where: DatabaseLocation } {
  const where = parseDatabaseUrl(settings.url);
  const password = settings.passwordFile ? readPasswordFile(settings.passwordFile) : where.password;
  if (password !== undefined) where.password = password;
  const config: PoolConfig = {
    host: where.host,
    port: where.port,
    database: where.database,
    user: where.user,
    ...(password !== undefined ? { password } : {}),
    application_name: where.applicationName,
    connectionTimeoutMillis: where.connectTimeoutSeconds * 1000,
    ssl: tlsOptions(where, settings.caFile),
  };
  return { config, where };
}

function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usage(`BITENVOY_DATABASE_PASSWORD_FILE=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point it at a file that holds only the database password, readable by the hub's user`);
  }
  // A file written with `echo` ends with a newline that is not part of the password.
  const password = text.replace(/\r?\n$/, '');
  if (!password) throw usage(`BITENVOY_DATABASE_PASSWORD_FILE=${file} is empty: write the database password into it`);
  return password;
}

function tlsOptions(where: DatabaseLocation, caFile: string | undefined): false | ConnectionOptions {
  let ca: string | undefined;
  if (caFile) {
    if (where.sslmode === 'disable') {
      throw usage(`BITENVOY_DATABASE_CA_FILE is set but BITENVOY_DATABASE_URL does not ask for TLS: add ?sslmode=verify-full to the URL (or unset BITENVOY_DATABASE_CA_FILE)`);
    }
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw usage(`BITENVOY_DATABASE_CA_FILE=${caFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point it at the PEM file of the CA that signed the database server's certificate`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw usage(`BITENVOY_DATABASE_CA_FILE=${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----): point it at the CA certificate, not a key`);
  }
  switch (where.sslmode) {
    case 'disable':
      return false;
    // As libpq: `require` encrypts without checking whom it talks to, unless a CA is given (then it checks the chain).
    case 'require':
      return ca ? { ca, checkServerIdentity: () => undefined } : { rejectUnauthorized: false };
    case 'verify-ca':
      return { ...(ca ? { ca } : {}), checkServerIdentity: () => undefined };
    case 'verify-full':
      return ca ? { ca } : {};
  }
}

/** Errors from the network or TLS, and PostgreSQL's SQLSTATE codes, that mean "cannot use this database". */
const UNREACHABLE = ['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'ENOENT'];
const TLS_REFUSED = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|ERR_SSL|ERR_TLS/;
/** admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections. */
const SERVER_UNAVAILABLE = ['57P01', '57P02', '57P03', '53300'];

/**
 * The sentence for an error that means the store cannot be used (cannot connect, wrong user or password, no such
 * database, TLS refused, server gone), as `BE_STORE_UNAVAILABLE` with the original as its cause; undefined for any
 * other error (a statement's own). The password never appears in it.
 */
export function explainConnectionError(err: unknown, where: DatabaseLocation): BitEnvoyError | undefined {
  if (!(err instanceof Error) || err instanceof BitEnvoyError) return undefined;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const at = `PostgreSQL at ${where.host.startsWith('/') ? where.host : `${where.host}:${where.port}`}`;
  const detail = scrub(err.message, where);
  let message: string | undefined;
  if (UNREACHABLE.includes(code) || /connection timeout|timeout expired/i.test(err.message)) {
    message = `cannot connect to ${at} (${code || detail}): is PostgreSQL running there, and is BITENVOY_DATABASE_URL (${where.display}) right?`;
  } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    message = `cannot find the host "${where.host}" of BITENVOY_DATABASE_URL (${where.display}): ${code}; check the host name`;
  } else if (code === '28P01') {
    message = `${at} refused the password of user "${where.user}": check BITENVOY_DATABASE_PASSWORD_FILE (or the password in BITENVOY_DATABASE_URL) and that the user exists with that password`;
  } else if (code === '28000') {
    message = `${at} does not let user "${where.user}" connect to database "${where.database}" (${detail}): check the user in BITENVOY_DATABASE_URL, and pg_hba.conf on the server`;
  } else if (code === '3D000') {
    message = `database "${where.database}" does not exist on ${at}: create it (\`createdb -h ${where.host} -p ${where.port} -U ${where.user} ${where.database}\`) or correct the database name in BITENVOY_DATABASE_URL`;
  } else if (/does not support SSL/i.test(err.message)) {
    message = `${at} does not offer TLS, but BITENVOY_DATABASE_URL asks for sslmode=${where.sslmode}: turn on \`ssl\` in the server's postgresql.conf, or use sslmode=disable on a trusted network`;
  } else if (TLS_REFUSED.test(code)) {
    message = `the TLS certificate of ${at} was not accepted (${code}: ${detail}): set BITENVOY_DATABASE_CA_FILE to the CA that signed it, or check the host name in BITENVOY_DATABASE_URL matches the certificate (sslmode=${where.sslmode})`;
  } else if (SERVER_UNAVAILABLE.includes(code)) {
    message = `${at} cannot take the hub now (${code}: ${detail}): it is shutting down, starting or out of connections; the hub tries again on the next request`;
  } else if (/Connection terminated|connection ended|Client has encountered a connection error/i.test(err.message)) {
    message = `the connection to ${at} was cut (${detail}): the hub reconnects on the next request; if it keeps happening, check the server and the network`;
  }
  return message ? new BitEnvoyError('BE_STORE_UNAVAILABLE', message, { cause: err }) : undefined;
}

/** A server's message with the password taken out, should it ever quote it. */
function scrub(text: string, where: DatabaseLocation): string {
  const clean = withoutCredentials(text);
  return where.password ? clean.split(where.password).join('***') : clean;
}

function usage(message: string): BitEnvoyError {
  return new BitEnvoyError('BE_USAGE', message);
}
