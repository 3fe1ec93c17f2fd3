/**
 * The hub's access token for Azure Resource Manager, from Azure's standard credentials (the environment variables the
 * Azure SDKs' `EnvironmentCredential` and `ManagedIdentityCredential` read), in this order:
 *
 * 1. A client secret: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` of an app registration (service
 *    principal), exchanged with the client credentials grant at
 *    `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token` for the scope `https://management.azure.com/.default`.
 *    `AZURE_AUTHORITY_HOST` replaces the authority for a sovereign cloud (e.g. `https://login.microsoftonline.us`).
 * 2. Otherwise the VM's managed identity through the Instance Metadata Service
 *    (`http://169.254.169.254/metadata/identity/oauth2/token`); with `AZURE_CLIENT_ID` set, the user-assigned identity
 *    with that client id, else the system-assigned one.
 *
 * Minimum role for that identity: the built-in **Reader** role on each discovered subscription. Certificate
 * (`AZURE_CLIENT_CERTIFICATE_PATH`) and workload identity (`AZURE_FEDERATED_TOKEN_FILE`) credentials are refused with
 * a message rather than passed over, so that the hub never quietly acts as the VM's identity instead. The token is
 * cached by {@link cacheAccessToken}; neither the token nor the secret ever appears in a message.
 *
 * @example
 * const scopes = azureScopes({ subscriptions: ['00000000-0000-0000-0000-000000000000'], getAccessToken: azureAccessToken() });
 */
import type { GetAccessToken } from './discovery-http.js';
import { cacheAccessToken, type FetchedToken } from './token-cache.js';
import { describeRefusal, readAccessToken, requestToken, type TokenAnswer } from './token-http.js';

/** The ARM resource, as IMDS wants it; the client credentials grant asks for `{resource}.default`. */
export const ARM_RESOURCE = 'https://management.azure.com/';
const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
const DEFAULT_IMDS_URL = 'http://169.254.169.254';
const IMDS_TOKEN_PATH = '/metadata/identity/oauth2/token';
const IMDS_API_VERSION = '2018-02-01';
const REQUEST_TIMEOUT_MS = 15_000;
/** IMDS is on the VM's own link: it answers in milliseconds or it is not there. */
const IMDS_TIMEOUT_MS = 5_000;
const NO_CREDENTIALS = 'set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for an app registration with the Reader role on each subscription, or run the hub on an Azure VM whose managed identity has that role';

export interface AzureTokenOptions {
  /** Where the `AZURE_*` variables are read; `process.env` by default. */
  env?: Record<string, string | undefined>;
  /** IMDS's base URL, for tests. */
  imdsUrl?: string;
  /** The resource the token is for: ARM's, or a sovereign cloud's (`https://management.usgovcloudapi.net/`). */
  resource?: string;
  /** Milliseconds since the epoch, for the cache and IMDS's `expires_on`. */
  now?: () => number;
}

interface ClientSecret {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost: string;
}

/**
 * A cached token source for the Azure discovery scopes: the client secret when `AZURE_CLIENT_SECRET` is set, the
 * managed identity otherwise. The variables are read at every refresh.
 *
 * @example
 * const getAccessToken = azureAccessToken();
 * await getAccessToken(); // 'eyJ0eXAiOi…'
 */
export function azureAccessToken(options: AzureTokenOptions = {}): GetAccessToken {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const resource = options.resource ?? ARM_RESOURCE;
  const fetchToken = (): Promise<FetchedToken> => {
    const secret = clientSecretFromEnv(env);
    if (secret) return clientSecretToken(secret, resource, now);
    return managedIdentityToken(env['AZURE_CLIENT_ID'] || undefined, options.imdsUrl ?? DEFAULT_IMDS_URL, resource, now);
  };
  return cacheAccessToken(fetchToken, { now });
}

/** The client secret settings, undefined when there is no secret, an error when they are incomplete. */
function clientSecretFromEnv(env: Record<string, string | undefined>): ClientSecret | undefined {
  const { AZURE_TENANT_ID: tenantId, AZURE_CLIENT_ID: clientId, AZURE_CLIENT_SECRET: clientSecret } = env;
  if (!clientSecret) {
    const unsupported = ['AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_FEDERATED_TOKEN_FILE'].find((name) => env[name]);
    if (unsupported) throw new Error(`Azure credentials: ${unsupported} is set, but the hub supports only a client secret or a managed identity — ${NO_CREDENTIALS}, and unset ${unsupported}`);
    return undefined;
  }
  if (!tenantId || !clientId) {
    const missing = [tenantId ? [] : 'AZURE_TENANT_ID', clientId ? [] : 'AZURE_CLIENT_ID'].flat();
    throw new Error(`Azure credentials: AZURE_CLIENT_SECRET is set but ${missing.join(' and ')} not — set the app registration's directory (tenant) id and application (client) id, or unset AZURE_CLIENT_SECRET to use the VM's managed identity`);
  }
  return { tenantId, clientId, clientSecret, authorityHost: env['AZURE_AUTHORITY_HOST'] || DEFAULT_AUTHORITY_HOST };
}

async function clientSecretToken(credential: ClientSecret, resource: string, now: () => number): Promise<FetchedToken> {
  const url = authorityTokenUrl(credential);
  const what = `Azure token request for client ${credential.clientId} in tenant ${credential.tenantId}`;
  const answer = await requestToken({
    what,
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    form: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: credential.clientId,
      client_secret: credential.clientSecret,
      scope: `${resource.replace(/\/?$/, '/')}.default`,
    }),
    timeoutMs: REQUEST_TIMEOUT_MS,
    unreachable: "check the hub's outbound network (DNS, proxy, firewall) and AZURE_AUTHORITY_HOST if set",
    secrets: [credential.clientSecret],
  });
  if (answer.status !== 200) throw clientSecretRefused(what, url, answer);
  return readAccessToken(answer, what, now());
}

/** Only HTTPS, as the Azure SDKs insist too: the form carries the client secret. */
function authorityTokenUrl(credential: ClientSecret): URL {
  let authority: URL;
  try {
    authority = new URL(credential.authorityHost.replace(/\/*$/, '/'));
  } catch {
    throw new Error(`Azure credentials: AZURE_AUTHORITY_HOST ${JSON.stringify(credential.authorityHost)} is not a URL — use e.g. https://login.microsoftonline.us, or unset it for the public cloud`);
  }
  if (authority.protocol !== 'https:') throw new Error(`Azure credentials: AZURE_AUTHORITY_HOST ${authority.origin} is not https; the client secret is only sent over https — fix or unset it`);
  return new URL(`${encodeURIComponent(credential.tenantId)}/oauth2/v2.0/token`, authority);
}

function clientSecretRefused(what: string, url: URL, answer: TokenAnswer): Error {
  const { said } = describeRefusal(answer);
  return new Error(`${what} at ${url.host} was refused: HTTP ${answer.status}: ${said} — ${clientSecretRemedy(answer.status, said)}`);
}

/** Entra ID's AADSTS codes that a wrong setting causes, and which setting it is. */
const AADSTS_REMEDIES: Record<string, string> = {
  '7000215': "AZURE_CLIENT_SECRET must be the secret's value (shown once, when it was created), not its secret ID",
  '7000222': "the client secret has expired: create a new one under the app registration's Certificates & secrets and update AZURE_CLIENT_SECRET",
  '700016': 'no application with this AZURE_CLIENT_ID in this AZURE_TENANT_ID: copy both from the app registration’s Overview page',
  '90002': 'no such tenant: check AZURE_TENANT_ID (Directory (tenant) ID), and AZURE_AUTHORITY_HOST for a sovereign cloud',
  '900023': 'AZURE_TENANT_ID is not a tenant id or domain: use the Directory (tenant) ID',
};

function clientSecretRemedy(status: number, said: string): string {
  const code = /AADSTS(\d+)/.exec(said)?.[1];
  const known = code === undefined ? undefined : AADSTS_REMEDIES[code];
  if (known) return known;
  if (status === 429 || status >= 500) return 'an Azure-side error; tried again on the next refresh';
  return 'check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET against the app registration, which needs the Reader role on each subscription';
}

async function managedIdentityToken(clientId: string | undefined, imdsUrl: string, resource: string, now: () => number): Promise<FetchedToken> {
  const url = imdsTokenUrl(imdsUrl, resource, clientId);
  const what = `Azure managed identity${clientId ? ` ${clientId}` : ''} (AZURE_CLIENT_SECRET is not set)`;
  const answer = await requestToken({
    what,
    url,
    // Required by IMDS, and never added by a browser or a forwarding proxy: proof the request is meant for it.
    headers: { metadata: 'true' },
    timeoutMs: IMDS_TIMEOUT_MS,
    unreachable: `the hub does not run on an Azure VM, it seems: ${NO_CREDENTIALS}`,
  });
  if (answer.status !== 200) {
    const { said } = describeRefusal(answer);
    throw new Error(`${what}: IMDS answered HTTP ${answer.status}: ${said} — ${managedIdentityRemedy(answer.status, said, clientId)}`);
  }
  return readAccessToken(answer, what, now());
}

function imdsTokenUrl(imdsUrl: string, resource: string, clientId: string | undefined): URL {
  const url = new URL(IMDS_TOKEN_PATH, imdsUrl);
  url.searchParams.set('api-version', IMDS_API_VERSION);
  url.searchParams.set('resource', resource);
  if (clientId) url.searchParams.set('client_id', clientId);
  return url;
}

function managedIdentityRemedy(status: number, said: string, clientId: string | undefined): string {
  if (/multiple user assigned identities/i.test(said)) return 'this VM has several user-assigned identities: set AZURE_CLIENT_ID to the client id of the one with the Reader role';
  if (/identity not found/i.test(said)) {
    return clientId
      ? `no identity with client id ${clientId} is assigned to this VM: assign it, or correct AZURE_CLIENT_ID`
      : 'this VM has no managed identity: enable one and give it the Reader role on each subscription, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for an app registration that has it';
  }
  // Microsoft's guidance for IMDS: 404, 410, 429 and 5xx are transient (the identity is still being set up, or IMDS is busy).
  if (status === 404 || status === 410 || status === 429 || status >= 500) return 'IMDS is busy or still setting up the identity; tried again on the next refresh';
  return `check the VM's managed identity, or ${NO_CREDENTIALS}`;
}
