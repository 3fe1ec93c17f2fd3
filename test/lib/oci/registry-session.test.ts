import { afterEach, describe, expect, it } from 'vitest';
import { openRegistrySession } from '../../../lib/oci/registry-session.js';
import { startFakeRegistry, type FakeRegistry } from './fake-registry.js';

const servers: FakeRegistry[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A registry that wants `Bearer good-token` and names `realm` in its challenge, and a token server at `/token`. */
async function registryDemandingTokens(options: { realm?: (host: string) => string; tokenStatus?: number; token?: string } = {}) {
  const fake = await startFakeRegistry((req, res, url) => {
    if (url.pathname === '/token') {
      return void res.writeHead(options.tokenStatus ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: options.token ?? 'good-token' }));
    }
    if (req.headers.authorization === 'Bearer good-token') return void res.writeHead(200).end('{}');
    const realm = options.realm ? options.realm(fake.host) : `http://${fake.host}/token`;
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="fake-registry",scope="repository:acme/site:pull"` }).end();
  });
  servers.push(fake);
  return fake;
}

const get = (session: ReturnType<typeof openRegistrySession>) => session.get('/v2/acme/site/manifests/1.0', { accept: 'application/json', maxBytes: 1000 });

describe('openRegistrySession: the bearer token flow', () => {
  it('answers a Bearer challenge with an anonymous token request to the realm, then retries with the token', async () => {
    const fake = await registryDemandingTokens();
    const session = openRegistrySession({ registry: fake.host, repository: 'acme/site', timeoutMs: 5000, insecureRegistries: [fake.host] });
    expect((await get(session)).status).toBe(200);
    expect(fake.seen.map((r) => [r.url, r.authorization])).toEqual([
      ['/v2/acme/site/manifests/1.0', undefined],
      ['/token?service=fake-registry&scope=repository%3Aacme%2Fsite%3Apull', undefined],
      ['/v2/acme/site/manifests/1.0', 'Bearer good-token'],
    ]);
    expect(session.authorization()).toBe('Bearer good-token');
    // The token is kept: the next request does not log in again.
    await get(session);
    expect(fake.seen).toHaveLength(4);
  });

  it('sends the configured credentials to the realm as Basic', async () => {
    const fake = await registryDemandingTokens();
    const session = openRegistrySession({ registry: fake.host, repository: 'acme/site', timeoutMs: 5000, insecureRegistries: [fake.host], credentials: { username: 'ci', password: 's:ecret' } });
    await get(session);
    expect(fake.seen[1]!.authorization).toBe(`Basic ${Buffer.from('ci:s:ecret').toString('base64')}`);
  });

  it('refuses to send a login to an http realm that is not listed as insecure, and asks it nothing', async () => {
    const realmServer = await startFakeRegistry((_req, res) => void res.writeHead(200).end('{"token":"good-token"}'));
    servers.push(realmServer);
    const fake = await registryDemandingTokens({ realm: () => `http://${realmServer.host}/token` });
    const session = openRegistrySession({ registry: fake.host, repository: 'acme/site', timeoutMs: 5000, insecureRegistries: [fake.host], credentials: { username: 'ci', password: 'pw' } });
    await expect(get(session)).rejects.toThrow(`the registry ${fake.host} sends logins to \`http://${realmServer.host}/token\`, which is not an https URL (nor a host listed as insecure): refusing to ask it for a token`);
    expect(realmServer.seen).toHaveLength(0);
  });

  it('says when the token server refuses, and when the registry refuses the token it issued', async () => {
    const refusing = await registryDemandingTokens({ tokenStatus: 401 });
    const s1 = openRegistrySession({ registry: refusing.host, repository: 'acme/site', timeoutMs: 5000, insecureRegistries: [refusing.host] });
    await expect(get(s1)).rejects.toThrow(`the token server of the registry ${refusing.host} refused an anonymous login for acme/site (HTTP 401): the package may be private (configure credentials) or not exist`);
    const useless = await registryDemandingTokens({ token: 'other-token' });
    const s2 = openRegistrySession({ registry: useless.host, repository: 'acme/site', timeoutMs: 5000, insecureRegistries: [useless.host] });
    await expect(get(s2)).rejects.toThrow(`the registry ${useless.host} refused the login for acme/site (HTTP 401 again after logging in)`);
  });

  it('refuses a token that could not be a header value', async () => {
    const fake = await registryDemandingTokens({ token: 'a\r\nx-injected: 1' });
    const session = openRegistrySession({ registry: fake.host, repository: 'acme/site', timeoutMs: 5000, insecureRegistries: [fake.host] });
    await expect(get(session)).rejects.toThrow(/answered HTTP 200 without a usable `token`/);
  });

  it('answers a Basic challenge with the credentials, and without credentials says they are needed', async () => {
    const fake = await startFakeRegistry((req, res) =>
      req.headers.authorization === `Basic ${Buffer.from('u:p').toString('base64')}` ? void res.writeHead(200).end() : void res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end(),
    );
    servers.push(fake);
    const base = { registry: fake.host, repository: 'acme/site', timeoutMs: 5000, insecureRegistries: [fake.host] };
    expect((await get(openRegistrySession({ ...base, credentials: { username: 'u', password: 'p' } }))).status).toBe(200);
    await expect(get(openRegistrySession(base))).rejects.toThrow(`the registry ${fake.host} asks for a user name and password for acme/site, and none are configured`);
  });
});

describe('openRegistrySession: the scheme', () => {
  it('speaks https to a registry not listed as insecure, never falling back to http', async () => {
    const fake = await startFakeRegistry((_req, res) => void res.writeHead(200).end('{}'));
    servers.push(fake);
    const session = openRegistrySession({ registry: fake.host, repository: 'acme/site', timeoutMs: 5000 });
    expect(session.baseUrl).toBe(`https://${fake.host}`);
    await expect(get(session)).rejects.toThrow(new RegExp(`the registry ${fake.host} could not be reached for /v2/acme/site/manifests/1.0`));
    expect(fake.seen).toHaveLength(0);
  });
});
