/**
 * Talks to one repository of one OCI registry, logging in the way registries ask: a request answered 401 with
 * `WWW-Authenticate: Bearer realm=…,service=…,scope=…` gets a token from `realm?service=…&scope=…` (anonymously, as
 * GHCR gives public packages, or with the Basic credentials given) and is sent again with it; a `Basic` challenge
 * gets the credentials directly. The token is kept for the session's later requests and offered to the downloader.
 *
 * Plain http is used only for registries listed in `insecureRegistries` (tests on 127.0.0.1); every other registry,
 * and every token realm not on that list, is https — there is no fallback from one to the other.
 *
 * @example
 * const session = openRegistrySession({ registry: 'ghcr.io', repository: 'acme/site', timeoutMs: 30_000 });
 * const res = await session.get('/v2/acme/site/manifests/1.2.0', { accept: MANIFEST_ACCEPT, maxBytes: MAX_MANIFEST_BYTES });
 */
import { BitEnvoyError } from '../errors.js';
import { parseWwwAuthenticate } from './parse-www-authenticate.js';
import { requestBytes, TooLargeError, type BytesResponse } from './request-bytes.js';

export interface RegistryAccess {
  /** `host[:port]`, as in the reference. */
  registry: string;
  repository: string;
  /** Registries (`host[:port]`, exactly as in references) spoken to over plain http. Empty by default. */
  insecureRegistries?: readonly string[];
  /** Sent to the token realm (or to a registry asking for Basic); none means anonymous. */
  credentials?: { username: string; password: string };
  /** Per request. */
  timeoutMs: number;
}

export interface RegistrySession {
  /** `https://host[:port]` (or `http://` for a registry listed as insecure). */
  readonly baseUrl: string;
  /** GET a path on the registry, logging in when it asks; the answer is returned whatever its status, except 401. */
  get(path: string, options: { accept: string; maxBytes: number }): Promise<BytesResponse>;
  /** The `Authorization` value the session logged in with, if the registry asked for one. */
  authorization(): string | undefined;
}

const MAX_TOKEN_ANSWER = 64 * 1024;
// A token goes into a header: printable ASCII only, and bounded (GHCR's are well under 4 KiB).
const TOKEN_SHAPE = /^[\x21-\x7e]{1,16384}$/;

export function openRegistrySession(access: RegistryAccess): RegistrySession {
  const insecure = new Set(access.insecureRegistries ?? []);
  const baseUrl = `${insecure.has(access.registry) ? 'http' : 'https'}://${access.registry}`;
  const where = `the registry ${access.registry}`;
  let authorization: string | undefined;

  const send = async (url: URL, headers: Record<string, string>, maxBytes: number, what: string) => {
    try {
      return await requestBytes(url, { headers, timeoutMs: access.timeoutMs, maxBytes });
    } catch (err) {
      const why = err instanceof TooLargeError ? `answered with more than ${maxBytes} bytes for ${what}` : `could not be reached for ${what}: ${(err as Error).message}`;
      throw new BitEnvoyError('BE_ARTIFACT', `${url.host === access.registry ? where : `the token server ${url.host} of ${where}`} ${why}; check the host, the network and the registry's status`, { cause: err });
    }
  };

  const logIn = async (challengeHeader: string | undefined) => {
    const challenge = parseWwwAuthenticate(challengeHeader);
    if (challenge?.scheme === 'basic') {
      if (!access.credentials) throw new BitEnvoyError('BE_ARTIFACT', `${where} asks for a user name and password for ${access.repository}, and none are configured: give the artifact source credentials`);
      authorization = `Basic ${Buffer.from(`${access.credentials.username}:${access.credentials.password}`).toString('base64')}`;
      return;
    }
    const realmText = challenge?.scheme === 'bearer' ? challenge.params.realm : undefined;
    if (realmText === undefined) {
      throw new BitEnvoyError('BE_ARTIFACT', `${where} answered 401 without a Bearer or Basic challenge BitEnvoy can follow (\`WWW-Authenticate: ${String(challengeHeader).slice(0, 120)}\`)`);
    }
    const realm = URL.canParse(realmText) ? new URL(realmText) : undefined;
    // Credentials go to the realm: it must be https, unless it is itself one of the registries explicitly allowed http.
    if (!realm || !(realm.protocol === 'https:' || (realm.protocol === 'http:' && insecure.has(realm.host)))) {
      throw new BitEnvoyError('BE_ARTIFACT', `${where} sends logins to \`${realmText.slice(0, 120)}\`, which is not an https URL (nor a host listed as insecure): refusing to ask it for a token`);
    }
    realm.searchParams.set('service', challenge!.params.service ?? access.registry);
    realm.searchParams.set('scope', challenge!.params.scope ?? `repository:${access.repository}:pull`);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (access.credentials) headers.authorization = `Basic ${Buffer.from(`${access.credentials.username}:${access.credentials.password}`).toString('base64')}`;
    const res = await send(realm, headers, MAX_TOKEN_ANSWER, 'a token');
    if (res.status === 401 || res.status === 403) {
      throw new BitEnvoyError('BE_ARTIFACT', `the token server of ${where} refused ${access.credentials ? 'the configured credentials' : 'an anonymous login'} for ${access.repository} (HTTP ${res.status}): ${access.credentials ? 'check the user name and token, and that they may read this package' : 'the package may be private (configure credentials) or not exist'}`);
    }
    const token = res.status === 200 ? readToken(res.body) : undefined;
    if (token === undefined) throw new BitEnvoyError('BE_ARTIFACT', `the token server of ${where} answered HTTP ${res.status} without a usable \`token\`; check the registry's status`);
    authorization = `Bearer ${token}`;
  };

  return {
    baseUrl,
    async get(path, options) {
      const url = new URL(path, baseUrl);
      const headersNow = () => ({ accept: options.accept, ...(authorization ? { authorization } : {}) });
      let res = await send(url, headersNow(), options.maxBytes, path);
      if (res.status !== 401) return res;
      await logIn(res.headers['www-authenticate']);
      res = await send(url, headersNow(), options.maxBytes, path);
      if (res.status === 401) {
        throw new BitEnvoyError('BE_ARTIFACT', `${where} refused the login for ${access.repository} (HTTP 401 again after logging in): check the credentials, and that they may read this repository`);
      }
      return res;
    },
    authorization: () => authorization,
  };
}

function readToken(body: Buffer): string | undefined {
  try {
    const json = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown };
    // The distribution token spec names it `token`; OAuth-style servers answer `access_token`.
    const token = typeof json.token === 'string' ? json.token : json.access_token;
    return typeof token === 'string' && TOKEN_SHAPE.test(token) ? token : undefined;
  } catch {
    return undefined;
  }
}
