/**
 * The hub's settings, read once from the environment: Probot's standard variables and BitEnvoy's own
 * `BITENVOY_*`. A bad value stops the hub with a message naming the variable and what it expects.
 *
 * @example
 * const settings = readHubSettings(process.env);
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BitEnvoyError } from '../lib/errors.js';
import { DEFAULT_SETTINGS, MAX_POLL_WAIT_SECONDS } from '../lib/protocol.js';
import { DEFAULT_TRUSTED_PROXIES, trustedProxies } from './api/client-address.js';
import { readCloudSettings, type CloudSettings } from './cloud/cloud-settings.js';
import { parseDatabaseUrl, type DatabaseSettings } from './store/sql/pg-connection.js';

export interface HubSettings {
  host: string | undefined;
  port: number;
  webhookPath: string;
  logLevel: string;
  dataDir: string;
  /** The PostgreSQL store (BITENVOY_DATABASE_URL and its files); undefined: the SQLite file in `dataDir`. */
  database?: DatabaseSettings;
  publicUrl: string;
  adminToken: string;
  configRepo: string | undefined;
  configBranch: string | undefined;
  configRefreshSeconds: number;
  /** GitHub mode without BITENVOY_CONFIG_REPO: the config repository's name in each installation owner's account. */
  configRepoName: string;
  /** How long check events for one commit are gathered before its checks are evaluated. */
  checksDebounceMs: number;
  leaseSeconds: number;
  heartbeatSeconds: number;
  pollWaitSeconds: number;
  /** The reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR blocks, comma-separated). */
  trustedProxies: string;
  /** What the store keeps (see app/store/retention.ts). */
  retention: { retentionDays: number; auditRetentionDays: number; logBudgetBytes: number };
  github: { appId: string; privateKey: string; webhookSecret: string; baseUrl?: string } | undefined;
  /**
   * Sign in with GitHub (GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET, the App's own user authorization): `webUrl` is where
   * people authorize (github.com, or the GitHub Enterprise Server of GHE_HOST), `apiUrl` where `GET /user` is asked.
   */
  githubSignIn?: { clientId: string; clientSecret: string; webUrl: string; apiUrl: string };
  /** Whether the status pages are readable without signing in (BITENVOY_DASHBOARD_PUBLIC). */
  dashboardPublic: boolean;
  /** The GitHub variables still missing when some but not all are set (a half-configured App), else empty. */
  githubMissing?: string[];
  /** Cloud discovery and attestation; undefined when no cloud variable is set. */
  cloud?: CloudSettings;
  /** How long a dead leader's periodic work waits before another replica takes it over. */
  leaderLeaseMs: number;
  /** After SIGTERM, how long /readyz says 503 while everything is still served, so load balancers stop routing here. */
  drainMs: number;
  /** Prometheus metrics on a port of their own (no token there); undefined: `/metrics` on the hub's port, with the admin token. */
  metrics?: { port: number; host: string | undefined };
  /** OCI registries (`host[:port]`) the hub asks over plain http when it pins an artifact's tag (BITENVOY_INSECURE_REGISTRIES). */
  insecureRegistries: string[];
}

/** Every variable the hub reads, with what it means: the README's settings table is made from this. */
export const HUB_VARIABLES = [
  ['PORT', 'Port the hub listens on.', '3000'],
  ['HOST', 'Address the hub listens on.', 'all interfaces'],
  ['LOG_LEVEL', 'pino log level: trace, debug, info, warn, error.', 'info'],
  ['APP_ID', 'GitHub App id. With PRIVATE_KEY and WEBHOOK_SECRET it turns GitHub mode on.', '(local mode)'],
  ['PRIVATE_KEY / PRIVATE_KEY_PATH', "The GitHub App's private key (PEM), or the path of its file.", '–'],
  ['WEBHOOK_SECRET', "The GitHub App's webhook secret; deliveries with a wrong signature are rejected.", '–'],
  ['WEBHOOK_PATH', 'Path GitHub delivers webhooks to.', '/api/github/webhooks'],
  ['GHE_HOST / GHE_PROTOCOL', 'GitHub Enterprise Server host name and protocol.', 'github.com / https'],
  ['GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET', "The GitHub App's client id and secret (Probot's manifest flow writes them to .env): they turn on **Sign in with GitHub** for the status pages. Register `$BITENVOY_PUBLIC_URL/login/github/callback` as the App's callback URL.", '(no GitHub sign-in)'],
  ['BITENVOY_DATA_DIR', 'Folder for the SQLite store, the config repo clone and the generated admin token.', './.bitenvoy-data'],
  [
    'BITENVOY_DATABASE_URL',
    'Puts the store on PostgreSQL, shared by every hub replica: `postgres://USER@HOST:PORT/DATABASE`, with `?sslmode=verify-full` (or `verify-ca`, `require`) for TLS. Migrations run at start.',
    '(the SQLite file in BITENVOY_DATA_DIR)',
  ],
  ['BITENVOY_DATABASE_CA_FILE', "PEM file of the CA that signed the PostgreSQL server's certificate (a private CA), with a `sslmode` that asks for TLS.", "the system's CAs"],
  ['BITENVOY_DATABASE_PASSWORD_FILE', 'File holding only the PostgreSQL password (it wins over one in the URL), so it is in neither the URL nor the environment.', '–'],
  ['BITENVOY_CONFIG_REPO', 'The config repo: a git URL or a local path. In GitHub mode it may be left unset: each installation owner then has its own (next row).', '(local mode: none, deployments are refused until set)'],
  ['BITENVOY_CONFIG_REPO_NAME', "GitHub mode without BITENVOY_CONFIG_REPO: the config repository's name in each organisation or user account the App is installed on.", '.bitenvoy'],
  ['BITENVOY_CONFIG_BRANCH', 'Branch of the config repo whose commits take effect.', "the repo's default branch"],
  ['BITENVOY_CONFIG_REFRESH_SECONDS', 'How often the config repo is fetched.', '60'],
  ['BITENVOY_CHECKS_DEBOUNCE_SECONDS', "How long check and status events for one commit are gathered before its required checks are evaluated (auto-deploy).", '5'],
  ['BITENVOY_PUBLIC_URL', 'Base URL people and agents reach the hub at; status page links use it.', 'http://localhost:$PORT'],
  ['BITENVOY_ADMIN_TOKEN', 'Bearer token for the admin API and `bitenvoy deploy`; signing in to the status pages with it is the single-operator mode (audited as `admin`).', 'generated into $BITENVOY_DATA_DIR/admin-token'],
  [
    'BITENVOY_DASHBOARD_PUBLIC',
    '`true`: anyone who reaches the hub may read the status pages (repository names, commits, logs). `false`: every page needs a sign-in, and a person signed in with GitHub sees only the repositories they can read.',
    'false in GitHub mode, true in local mode',
  ],
  ['BITENVOY_LEASE_SECONDS', 'A claimed job fails when its agent does not renew the lease for this long.', String(DEFAULT_SETTINGS.leaseSeconds)],
  ['BITENVOY_HEARTBEAT_SECONDS', 'An agent with no request for 3 of these intervals counts as lost.', String(DEFAULT_SETTINGS.heartbeatSeconds)],
  ['BITENVOY_POLL_WAIT_SECONDS', 'How long a long poll is held open (at most 50).', String(DEFAULT_SETTINGS.pollWaitSeconds)],
  [
    'BITENVOY_TRUSTED_PROXIES',
    'The reverse proxies in front of the hub (addresses or CIDR blocks, comma-separated): only a connection from one of them may say, in X-Forwarded-For, which client it forwards (per-client rate limits count that client).',
    DEFAULT_TRUSTED_PROXIES,
  ],
  ['BITENVOY_RETENTION_DAYS', "Deployments older than this many days are pruned with their jobs and logs, except each environment's newest, the one it runs and the one /rollback goes back to.", '90'],
  ['BITENVOY_AUDIT_RETENTION_DAYS', 'Audit entries are kept this many days (export them with `bitenvoy audit --format jsonl`).', '730'],
  ['BITENVOY_LOG_BUDGET_MB', 'All deployment logs together stay within this many MiB; the oldest entries are pruned first.', '2048'],
  ['BITENVOY_LEADER_LEASE_SECONDS', 'Hub replicas on PostgreSQL: the periodic work (lease expiry, pause timers, retention, cloud discovery, resuming GitHub effects, the auto-deploy sweep, fetching the config repo on the timer) runs on one of them, the leader; another takes over within this many seconds when it dies. A hub alone on SQLite always leads.', '10'],
  ['BITENVOY_DRAIN_SECONDS', 'After SIGTERM, how long the hub keeps serving while /readyz answers 503 (so load balancers take it out) before it hands the long polls back and stops. Set it to your load balancer\'s health-check interval × its failure threshold.', '0'],
  ['BITENVOY_METRICS_PORT', 'Serve Prometheus metrics at `/metrics` on this port, without a token (keep it reachable by Prometheus only). Unset: `/metrics` on the hub\'s own port, with the admin token as bearer.', '(the hub\'s port, token required)'],
  ['BITENVOY_METRICS_HOST', 'Address the metrics port listens on.', 'HOST'],
  [
    'BITENVOY_INSECURE_REGISTRIES',
    'Comma-separated OCI registries (`host[:port]`) the hub speaks plain http to when it pins an `oci` artifact\'s tag to a digest, e.g. a registry on this machine\'s loopback. Every other registry is asked over https only.',
    '(none)',
  ],
] as const;

/** Checked at start, so a typo stops the hub with the reason rather than trusting nobody (or everybody) quietly. */
function proxiesSetting(raw: string | undefined): string {
  const list = raw?.trim() || DEFAULT_TRUSTED_PROXIES;
  trustedProxies(list);
  return list;
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new BitEnvoyError('BE_USAGE', `${name}=${env[name]}: expected \`true\` or \`false\``);
}

/** Sign in with GitHub: both of the App's client credentials, or neither (a half pair stops the hub). */
function githubSignInFrom(env: NodeJS.ProcessEnv, protocol: string): HubSettings['githubSignIn'] {
  const clientId = env.GITHUB_CLIENT_ID?.trim();
  const clientSecret = env.GITHUB_CLIENT_SECRET?.trim();
  if (!clientId && !clientSecret) return undefined;
  if (!clientId || !clientSecret) {
    throw new BitEnvoyError('BE_USAGE', `${clientId ? 'GITHUB_CLIENT_SECRET' : 'GITHUB_CLIENT_ID'} is not set but ${clientId ? 'GITHUB_CLIENT_ID' : 'GITHUB_CLIENT_SECRET'} is: set both (the App's "Client ID" and a client secret from its settings page) to turn on Sign in with GitHub, or neither`);
  }
  const webUrl = env.GHE_HOST ? `${protocol}://${env.GHE_HOST}` : 'https://github.com';
  return { clientId, clientSecret, webUrl, apiUrl: env.GHE_HOST ? `${webUrl}/api/v3` : 'https://api.github.com' };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BitEnvoyError('BE_USAGE', `${name}=${raw}: expected a whole number from ${min} to ${max}`);
  }
  return value;
}

function number(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new BitEnvoyError('BE_USAGE', `${name}=${raw}: expected a number from ${min} to ${max}`);
  return value;
}

function repoName(name: string): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(name) || name === '.' || name === '..') {
    throw new BitEnvoyError('BE_USAGE', `BITENVOY_CONFIG_REPO_NAME=${name}: expected a repository name (letters, digits, \`.\`, \`-\`, \`_\`), e.g. \`.bitenvoy\``);
  }
  return name;
}

/** The PostgreSQL store's settings; the URL is checked now, so a typo stops the hub with what to write instead. */
export function databaseFrom(env: NodeJS.ProcessEnv): DatabaseSettings | undefined {
  const url = env.BITENVOY_DATABASE_URL?.trim();
  if (!url) {
    const orphan = ['BITENVOY_DATABASE_CA_FILE', 'BITENVOY_DATABASE_PASSWORD_FILE'].find((name) => env[name]);
    if (orphan) throw new BitEnvoyError('BE_USAGE', `${orphan} is set but BITENVOY_DATABASE_URL is not: set BITENVOY_DATABASE_URL=postgres://USER@HOST:PORT/DATABASE to use PostgreSQL, or unset ${orphan}`);
    return undefined;
  }
  parseDatabaseUrl(url);
  return { url, ...(env.BITENVOY_DATABASE_CA_FILE ? { caFile: env.BITENVOY_DATABASE_CA_FILE } : {}), ...(env.BITENVOY_DATABASE_PASSWORD_FILE ? { passwordFile: env.BITENVOY_DATABASE_PASSWORD_FILE } : {}) };
}

function privateKeyFrom(env: NodeJS.ProcessEnv): string | undefined {
  if (env.PRIVATE_KEY) return env.PRIVATE_KEY.replace(/\\n/g, '\n');
  if (env.PRIVATE_KEY_PATH) {
    try {
      return readFileSync(env.PRIVATE_KEY_PATH, 'utf8');
    } catch (err) {
      throw new BitEnvoyError('BE_USAGE', `PRIVATE_KEY_PATH=${env.PRIVATE_KEY_PATH}: cannot read it (${(err as Error).message}); point it at the App's .pem file`);
    }
  }
  return undefined;
}

/** The admin token: BITENVOY_ADMIN_TOKEN, else one generated once into `<dataDir>/admin-token` (mode 0600). */
function adminTokenFrom(env: NodeJS.ProcessEnv, dataDir: string): string {
  if (env.BITENVOY_ADMIN_TOKEN) return env.BITENVOY_ADMIN_TOKEN;
  const file = join(dataDir, 'admin-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = `bt_admin_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

export function readHubSettings(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const host = env.HOST || undefined;
  const dataDir = resolve(env.BITENVOY_DATA_DIR || '.bitenvoy-data');
  const database = databaseFrom(env);
  const publicUrl = (env.BITENVOY_PUBLIC_URL || `http://${host && host !== '0.0.0.0' ? host : 'localhost'}:${port}`).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(publicUrl)) {
    throw new BitEnvoyError('BE_USAGE', `BITENVOY_PUBLIC_URL=${publicUrl}: expected an http:// or https:// URL`);
  }
  const privateKey = privateKeyFrom(env);
  const present = { APP_ID: Boolean(env.APP_ID), 'PRIVATE_KEY (or PRIVATE_KEY_PATH)': Boolean(privateKey), WEBHOOK_SECRET: Boolean(env.WEBHOOK_SECRET) };
  const missing = Object.entries(present).filter(([, set]) => !set).map(([name]) => name);
  const complete = missing.length === 0;
  const protocol = env.GHE_PROTOCOL || 'https';
  if (protocol !== 'https' && protocol !== 'http') throw new BitEnvoyError('BE_USAGE', `GHE_PROTOCOL=${protocol}: expected \`https\` or \`http\``);
  const ghe = env.GHE_HOST ? `${protocol}://${env.GHE_HOST}/api/v3` : undefined;
  const githubSignIn = complete ? githubSignInFrom(env, protocol) : undefined;
  return {
    host,
    port,
    webhookPath: env.WEBHOOK_PATH || '/api/github/webhooks',
    logLevel: env.LOG_LEVEL || 'info',
    dataDir,
    ...(database ? { database } : {}),
    publicUrl,
    adminToken: adminTokenFrom(env, dataDir),
    configRepo: env.BITENVOY_CONFIG_REPO || undefined,
    configRepoName: repoName(env.BITENVOY_CONFIG_REPO_NAME || '.bitenvoy'),
    checksDebounceMs: Math.round(number(env, 'BITENVOY_CHECKS_DEBOUNCE_SECONDS', 5, 0, 600) * 1000),
    configBranch: env.BITENVOY_CONFIG_BRANCH || undefined,
    configRefreshSeconds: integer(env, 'BITENVOY_CONFIG_REFRESH_SECONDS', 60, 1, 86_400),
    leaseSeconds: integer(env, 'BITENVOY_LEASE_SECONDS', DEFAULT_SETTINGS.leaseSeconds, 1, 3600),
    heartbeatSeconds: integer(env, 'BITENVOY_HEARTBEAT_SECONDS', DEFAULT_SETTINGS.heartbeatSeconds, 1, 3600),
    pollWaitSeconds: integer(env, 'BITENVOY_POLL_WAIT_SECONDS', DEFAULT_SETTINGS.pollWaitSeconds, 1, MAX_POLL_WAIT_SECONDS),
    trustedProxies: proxiesSetting(env.BITENVOY_TRUSTED_PROXIES),
    retention: {
      retentionDays: integer(env, 'BITENVOY_RETENTION_DAYS', 90, 1, 36_500),
      auditRetentionDays: integer(env, 'BITENVOY_AUDIT_RETENTION_DAYS', 730, 1, 36_500),
      logBudgetBytes: integer(env, 'BITENVOY_LOG_BUDGET_MB', 2048, 1, 10_000_000) * 1024 * 1024,
    },
    githubMissing: missing.length < Object.keys(present).length ? missing : [],
    ...withCloud(readCloudSettings(env, publicUrl)),
    drainMs: integer(env, 'BITENVOY_DRAIN_SECONDS', 0, 0, 600) * 1000,
    leaderLeaseMs: integer(env, 'BITENVOY_LEADER_LEASE_SECONDS', 10, 2, 300) * 1000,
    ...(env.BITENVOY_METRICS_PORT ? { metrics: { port: integer(env, 'BITENVOY_METRICS_PORT', 0, 0, 65535), host: env.BITENVOY_METRICS_HOST || host } } : {}),
    ...(githubSignIn ? { githubSignIn } : {}),
    insecureRegistries: registriesSetting(env.BITENVOY_INSECURE_REGISTRIES),
    dashboardPublic: boolean(env, 'BITENVOY_DASHBOARD_PUBLIC', !complete),
    github: complete ? { appId: env.APP_ID!, privateKey: privateKey!, webhookSecret: env.WEBHOOK_SECRET!, ...(ghe ? { baseUrl: ghe } : {}) } : undefined,
  };
}

/** BITENVOY_INSECURE_REGISTRIES: `host[:port]` items, comma-separated. */
function registriesSetting(value: string | undefined): string[] {
  const items = (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);
  const bad = items.find((item) => !/^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$/.test(item));
  if (bad) throw new BitEnvoyError('BE_USAGE', `BITENVOY_INSECURE_REGISTRIES: \`${bad.slice(0, 100)}\` is not a registry \`host[:port]\`; write e.g. \`127.0.0.1:5000\` (no scheme, no path)`);
  return items;
}

function withCloud(cloud: CloudSettings | undefined): { cloud?: CloudSettings } {
  return cloud ? { cloud } : {};
}
