/**
 * The hub's access token for the Compute Engine API, from Google's standard credentials, in this order:
 *
 * 1. `GOOGLE_APPLICATION_CREDENTIALS`: the path of a service account's JSON key (`type: service_account`,
 *    `client_email`, `private_key`, `token_uri`). The hub signs a JWT with the key (RS256; `iss` the account,
 *    `scope` compute.readonly, `aud` the token URI, valid one hour) and exchanges it at `token_uri` for an access token
 *    (the OAuth 2.0 JWT bearer grant, RFC 7523). The file is read again at every refresh, so a rotated key is picked
 *    up without a restart.
 * 2. Otherwise the Compute Engine metadata server (`http://metadata.google.internal`, or `GCE_METADATA_HOST` as the
 *    Google client libraries honour it), which gives the token of the instance's attached service account. The
 *    instance's access scopes must include `compute.readonly` or `cloud-platform`.
 *
 * Minimum role for that service account: `roles/compute.viewer` (Compute Viewer) on each discovered project. User
 * credentials (`gcloud auth application-default login`) and workload identity federation files are refused with a
 * message saying so. The token is cached by {@link cacheAccessToken}; neither the token nor the key ever appears in a
 * message.
 *
 * @example
 * const scopes = gcpScopes({ projects: ['shop-prod'], getAccessToken: gcpAccessToken() });
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { GetAccessToken } from './discovery-http.js';
import { isJsonObject, stringAt, type JsonObject } from './discovery-json.js';
import { cacheAccessToken, type FetchedToken } from './token-cache.js';
import { describeRefusal, readAccessToken, requestToken, type TokenAnswer } from './token-http.js';

/** Read-only access to Compute Engine: all that discovery needs. */
export const GCP_TOKEN_SCOPE = 'https://www.googleapis.com/auth/compute.readonly';
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const DEFAULT_METADATA_URL = 'http://metadata.google.internal';
const METADATA_TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** The longest an assertion may live at Google's token endpoint. */
const ASSERTION_LIFETIME_S = 3600;
const EXCHANGE_TIMEOUT_MS = 15_000;
/** The metadata server is on the instance's own link: it answers in milliseconds or it is not there. */
const METADATA_TIMEOUT_MS = 5_000;
const NO_CREDENTIALS = 'set GOOGLE_APPLICATION_CREDENTIALS to a service-account key with roles/compute.viewer, or run the hub on a Compute Engine instance whose service account has that role';
const NEW_KEY = 'create a JSON key for a service account with roles/compute.viewer (IAM → Service accounts → Keys → Add key) and point GOOGLE_APPLICATION_CREDENTIALS at it';

export interface GcpTokenOptions {
  /** Where `GOOGLE_APPLICATION_CREDENTIALS` and `GCE_METADATA_HOST` are read; `process.env` by default. */
  env?: Record<string, string | undefined>;
  /** The metadata server's base URL, for tests; overrides `GCE_METADATA_HOST`. */
  metadataUrl?: string;
  /** Milliseconds since the epoch, for the JWT's `iat` and the cache. */
  now?: () => number;
}

/** The parts of a service-account key file the exchange needs, checked. */
interface ServiceAccountKey {
  clientEmail: string;
  privateKey: KeyObject;
  privateKeyId?: string;
  /** `token_uri` exactly as written: it is the JWT's audience, compared as a string by Google. */
  audience: string;
  tokenUrl: URL;
}

/**
 * A cached token source for the GCP discovery scopes, using the key file when `GOOGLE_APPLICATION_CREDENTIALS` is set
 * and the metadata server otherwise.
 *
 * @example
 * const getAccessToken = gcpAccessToken();
 * await getAccessToken(); // 'ya29.…'
 */
export function gcpAccessToken(options: GcpTokenOptions = {}): GetAccessToken {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const keyFile = env['GOOGLE_APPLICATION_CREDENTIALS'];
  const fetchToken = keyFile
    ? () => serviceAccountToken(keyFile, now)
    : () => metadataServerToken(options.metadataUrl ?? metadataUrlFromEnv(env), now);
  return cacheAccessToken(fetchToken, { now });
}

async function serviceAccountToken(path: string, now: () => number): Promise<FetchedToken> {
  const key = await readServiceAccountKey(path);
  const assertion = signAssertion(key, now());
  const what = `GCP token exchange for ${key.clientEmail}`;
  const answer = await requestToken({
    what,
    url: key.tokenUrl,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    form: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }),
    timeoutMs: EXCHANGE_TIMEOUT_MS,
    unreachable: "check the hub's outbound network (DNS, proxy, firewall)",
    // The assertion is a credential for an hour; Google never sees the private key, so it cannot echo it.
    secrets: [assertion],
  });
  if (answer.status !== 200) throw exchangeRefused(what, key.tokenUrl, answer);
  return readAccessToken(answer, what, now());
}

/** A JWT for the JWT bearer grant, signed RS256 with the service account's key. */
function signAssertion(key: ServiceAccountKey, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  // `kid` lets Google pick the right public key at once when the account has several.
  const header = { alg: 'RS256', typ: 'JWT', ...(key.privateKeyId ? { kid: key.privateKeyId } : {}) };
  const claims = { iss: key.clientEmail, scope: GCP_TOKEN_SCOPE, aud: key.audience, iat, exp: iat + ASSERTION_LIFETIME_S };
  const signingInput = `${base64url(header)}.${base64url(claims)}`;
  const signature = sign('sha256', Buffer.from(signingInput), key.privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

function base64url(value: JsonObject): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function exchangeRefused(what: string, url: URL, answer: TokenAnswer): Error {
  const { error, said } = describeRefusal(answer);
  return new Error(`${what} at ${url.host} was refused: HTTP ${answer.status}: ${said} — ${exchangeRemedy(answer.status, error)}`);
}

function exchangeRemedy(status: number, error: string | undefined): string {
  if (error === 'invalid_grant') {
    return "the key or the service account may be deleted or disabled, or the hub's clock is minutes off: check the key under IAM → Service accounts → Keys (create a new one if it is gone) and keep the clock synchronised (NTP)";
  }
  if (status === 429 || status >= 500) return 'a Google-side error; tried again on the next refresh';
  return `check client_email and token_uri in the key file, or ${NEW_KEY}`;
}

async function readServiceAccountKey(path: string): Promise<ServiceAccountKey> {
  const json = parseKeyFile(path, await readKeyFile(path));
  const type = stringAt(json, 'type');
  if (type !== 'service_account') throw keyFileError(path, wrongType(type));
  const clientEmail = stringAt(json, 'client_email');
  if (!clientEmail) throw keyFileError(path, 'has no client_email');
  const audience = stringAt(json, 'token_uri') ?? DEFAULT_TOKEN_URI;
  const privateKeyId = stringAt(json, 'private_key_id');
  return {
    clientEmail,
    privateKey: readPrivateKey(path, stringAt(json, 'private_key')),
    ...(privateKeyId ? { privateKeyId } : {}),
    audience,
    tokenUrl: readTokenUrl(path, audience),
  };
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`;
    throw keyFileError(path, problem, err);
  }
}

/** JSON.parse's message quotes the text around the mistake, which here may be the private key: it is not passed on. */
function parseKeyFile(path: string, text: string): JsonObject {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw keyFileError(path, 'is not JSON');
  }
  if (!isJsonObject(json)) throw keyFileError(path, 'is not a JSON object');
  return json;
}

function wrongType(type: string | undefined): string {
  if (type === 'authorized_user') return 'holds user credentials (gcloud auth application-default login), not a service-account key';
  if (type === 'external_account') return 'is a workload identity federation configuration, which the hub does not support';
  return type === undefined ? 'has no type; a service-account key has "type": "service_account"' : `has type ${JSON.stringify(type.slice(0, 40))}, not "service_account"`;
}

function readPrivateKey(path: string, pem: string | undefined): KeyObject {
  if (!pem) throw keyFileError(path, 'has no private_key');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // The reason (a decoder error) says nothing an operator can act on, and the PEM must not be quoted.
    throw keyFileError(path, 'has a private_key that is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'rsa') throw keyFileError(path, `has a private_key of type ${key.asymmetricKeyType ?? 'unknown'}; Google's keys are RSA`);
  return key;
}

/** Only HTTPS: the signed assertion is a credential for an hour and must not cross the network in the clear. */
function readTokenUrl(path: string, tokenUri: string): URL {
  let url: URL;
  try {
    url = new URL(tokenUri);
  } catch {
    throw keyFileError(path, 'has a token_uri that is not a URL');
  }
  if (url.protocol !== 'https:') throw keyFileError(path, `has a token_uri on ${url.protocol.slice(0, -1)}, not https`);
  return url;
}

function keyFileError(path: string, problem: string, cause?: unknown): Error {
  return new Error(`GCP credentials: the key file ${path} (GOOGLE_APPLICATION_CREDENTIALS) ${problem} — ${NEW_KEY}`, cause === undefined ? undefined : { cause });
}

/** `GCE_METADATA_HOST` is a host (and port), as the Google client libraries read it, not a URL. */
function metadataUrlFromEnv(env: Record<string, string | undefined>): string {
  const host = env['GCE_METADATA_HOST'];
  return host ? `http://${host}` : DEFAULT_METADATA_URL;
}

async function metadataServerToken(baseUrl: string, now: () => number): Promise<FetchedToken> {
  const url = metadataTokenUrl(baseUrl);
  const what = 'GCP metadata server (GOOGLE_APPLICATION_CREDENTIALS is not set)';
  const answer = await requestToken({
    what,
    url,
    headers: { 'metadata-flavor': 'Google' },
    timeoutMs: METADATA_TIMEOUT_MS,
    unreachable: `the hub does not run on Compute Engine, it seems: ${NO_CREDENTIALS}`,
  });
  // The metadata server always sends this header; whatever answers without it (a proxy, a captive portal) is not it.
  if (answer.headers.get('metadata-flavor') !== 'Google') {
    throw new Error(`${what}: ${url.host} answered HTTP ${answer.status} without Metadata-Flavor: Google, so it is not the metadata server — is a proxy in the way? Otherwise ${NO_CREDENTIALS}`);
  }
  if (answer.status === 404) {
    throw new Error(`${what}: this instance has no service account attached — attach one with roles/compute.viewer and the compute.readonly or cloud-platform access scope, or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key with that role`);
  }
  if (answer.status !== 200) {
    throw new Error(`${what}: ${url.host} answered HTTP ${answer.status}: ${describeRefusal(answer).said} — tried again on the next refresh; if it persists, ${NO_CREDENTIALS}`);
  }
  return readAccessToken(answer, what, now());
}

function metadataTokenUrl(baseUrl: string): URL {
  try {
    return new URL(METADATA_TOKEN_PATH, baseUrl);
  } catch {
    throw new Error(`GCP credentials: the metadata server address ${JSON.stringify(baseUrl)} is not a URL — GCE_METADATA_HOST takes a host and optional port, e.g. 169.254.169.254:80`);
  }
}
