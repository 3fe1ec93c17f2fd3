import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { gcpAccessToken } from '../../app/cloud/token-gcp.js';

const NOW = Date.parse('2025-03-06T12:00:00Z');
const CLIENT_EMAIL = 'bitenvoy-hub@shop-prod.iam.gserviceaccount.com';
const TOKEN_HOST = 'https://oauth2.googleapis.com';
const METADATA_HOST = 'http://metadata.google.internal';
const METADATA_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const GOOGLE = { 'metadata-flavor': 'Google', 'content-type': 'application/json' };
const TOKEN_ANSWER = { access_token: 'ya29.c.service-account-token', expires_in: 3599, token_type: 'Bearer' };
const NO_CREDENTIALS = 'set GOOGLE_APPLICATION_CREDENTIALS to a service-account key with roles/compute.viewer';

const dir = mkdtempSync(join(tmpdir(), 'bitenvoy-gcp-token-'));
const serviceAccount = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = serviceAccount.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A key file as the Cloud console downloads it, with `overrides` applied; undefined values drop the field. */
function keyFile(overrides: Record<string, unknown> = {}, name = 'key.json'): string {
  const key = {
    type: 'service_account',
    project_id: 'shop-prod',
    private_key_id: '5f3b8e1c2d4a6b7c8d9e0f1a2b3c4d5e6f7a8b9c',
    private_key: privateKeyPem,
    client_email: CLIENT_EMAIL,
    client_id: '109876543210987654321',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
    ...overrides,
  };
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(key, null, 2));
  return path;
}

function withKeyFile(path: string, now = () => NOW) {
  return gcpAccessToken({ env: { GOOGLE_APPLICATION_CREDENTIALS: path }, now });
}

/** Records the raw body of every request the scope answers. */
function recordBodies(scope: nock.Scope): string[] {
  const bodies: string[] = [];
  scope.on('request', (_req: unknown, _interceptor: unknown, body: string) => bodies.push(body));
  return bodies;
}

function decodeJwt(jwt: string) {
  const [header, claims, signature] = jwt.split('.');
  const json = (part: string | undefined) => JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as unknown;
  const verifies = (key: KeyObject) => verify('sha256', Buffer.from(`${header}.${claims}`), key, Buffer.from(signature ?? '', 'base64url'));
  return { header: json(header), claims: json(claims), verifies };
}

afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gcpAccessToken with a service-account key (GOOGLE_APPLICATION_CREDENTIALS)', () => {
  it('exchanges a JWT signed by the key, with the documented claims, for an access token', async () => {
    const scope = nock(TOKEN_HOST).matchHeader('content-type', FORM['content-type']).post('/token').reply(200, TOKEN_ANSWER);
    const bodies = recordBodies(scope);

    expect(await withKeyFile(keyFile())()).toBe('ya29.c.service-account-token');

    expect(bodies).toHaveLength(1);
    const form = new URLSearchParams(bodies[0]);
    expect([...form.keys()]).toEqual(['grant_type', 'assertion']);
    expect(bodies[0]).toMatch(/^grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=[\w-]+\.[\w-]+\.[\w-]+$/);
    const jwt = decodeJwt(form.get('assertion') ?? '');
    expect(jwt.header).toEqual({ alg: 'RS256', typ: 'JWT', kid: '5f3b8e1c2d4a6b7c8d9e0f1a2b3c4d5e6f7a8b9c' });
    expect(jwt.claims).toEqual({
      iss: CLIENT_EMAIL,
      scope: 'https://www.googleapis.com/auth/compute.readonly',
      aud: 'https://oauth2.googleapis.com/token',
      iat: NOW / 1000,
      exp: NOW / 1000 + 3600,
    });
    expect(jwt.verifies(serviceAccount.publicKey)).toBe(true);
    expect(jwt.verifies(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey)).toBe(false);
  });

  it('posts to the key file’s token_uri, which is also the audience', async () => {
    const scope = nock('https://oauth2.example-private.googleapis.com').post('/token').reply(200, TOKEN_ANSWER);
    const bodies = recordBodies(scope);

    await withKeyFile(keyFile({ token_uri: 'https://oauth2.example-private.googleapis.com/token' }, 'private-token-uri.json'))();

    const jwt = decodeJwt(new URLSearchParams(bodies[0]).get('assertion') ?? '');
    expect(jwt.claims).toMatchObject({ aud: 'https://oauth2.example-private.googleapis.com/token' });
  });

  it('exchanges once for two calls, and again when less than 5 minutes remain', async () => {
    const clock = { now: NOW };
    nock(TOKEN_HOST).post('/token').reply(200, TOKEN_ANSWER).post('/token').reply(200, { ...TOKEN_ANSWER, access_token: 'ya29.second' });
    const getAccessToken = withKeyFile(keyFile(), () => clock.now);

    expect([await getAccessToken(), await getAccessToken()]).toEqual(['ya29.c.service-account-token', 'ya29.c.service-account-token']);
    expect(nock.pendingMocks()).toHaveLength(1);

    clock.now += (3599 - 300) * 1000;
    expect(await getAccessToken()).toBe('ya29.second');
  });

  it('shares one exchange between concurrent calls', async () => {
    nock(TOKEN_HOST).post('/token').delay(50).reply(200, TOKEN_ANSWER);
    const getAccessToken = withKeyFile(keyFile());

    expect(await Promise.all([getAccessToken(), getAccessToken(), getAccessToken()])).toEqual(Array(3).fill('ya29.c.service-account-token'));
  });

  it('passes invalid_grant on with Google’s description and the remedy, without the key or the assertion', async () => {
    const scope = nock(TOKEN_HOST).post('/token').reply(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    const bodies = recordBodies(scope);

    const error = await withKeyFile(keyFile())().catch((err: unknown) => err as Error);

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      `GCP token exchange for ${CLIENT_EMAIL} at oauth2.googleapis.com was refused: HTTP 400: invalid_grant: Invalid JWT Signature. — the key or the service account may be deleted or disabled, or the hub's clock is minutes off: check the key under IAM → Service accounts → Keys (create a new one if it is gone) and keep the clock synchronised (NTP)`,
    );
    expectNoSecrets(error as Error, new URLSearchParams(bodies[0]).get('assertion') ?? 'no assertion sent');
  });

  it('redacts the assertion even when the token endpoint echoes it', async () => {
    const scope = nock(TOKEN_HOST).post('/token').reply(400, () => ({ error: 'invalid_request', error_description: `bad assertion ${assertions[0] ?? ''}` }));
    const assertions: string[] = [];
    scope.on('request', (_req: unknown, _interceptor: unknown, body: string) => assertions.push(new URLSearchParams(body).get('assertion') ?? ''));

    const error = await withKeyFile(keyFile())().catch((err: unknown) => err as Error);

    expect((error as Error).message).toContain('invalid_request: bad assertion [redacted]');
    expectNoSecrets(error as Error, assertions[0] ?? 'no assertion sent');
  });

  it('tries a refused exchange again, but not within 5 s', async () => {
    const clock = { now: NOW };
    nock(TOKEN_HOST)
      .post('/token')
      .reply(400, { error: 'invalid_grant', error_description: 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.' })
      .post('/token')
      .reply(200, TOKEN_ANSWER);
    const getAccessToken = withKeyFile(keyFile(), () => clock.now);

    await expect(getAccessToken()).rejects.toThrow('Token must be a short-lived token');
    clock.now += 4_999;
    await expect(getAccessToken()).rejects.toThrow('Token must be a short-lived token');
    expect(nock.pendingMocks()).toHaveLength(1);
    clock.now += 1;
    expect(await getAccessToken()).toBe('ya29.c.service-account-token');
  });

  it('names the key file and the fix when it cannot be used, and never quotes the key', async () => {
    const missing = join(dir, 'absent.json');
    const notJson = join(dir, 'not-json.json');
    writeFileSync(notJson, `{ "private_key": "${privateKeyPem.replaceAll('\n', '\\n')}", oops }`);
    const fix = 'create a JSON key for a service account with roles/compute.viewer (IAM → Service accounts → Keys → Add key) and point GOOGLE_APPLICATION_CREDENTIALS at it';
    const cases: Array<[string, string]> = [
      [missing, 'does not exist'],
      [notJson, 'is not JSON'],
      [keyFile({ type: 'authorized_user' }, 'user.json'), 'holds user credentials (gcloud auth application-default login), not a service-account key'],
      [keyFile({ type: 'external_account' }, 'federation.json'), 'is a workload identity federation configuration, which the hub does not support'],
      [keyFile({ client_email: undefined }, 'no-email.json'), 'has no client_email'],
      [keyFile({ private_key: privateKeyPem.replace(/[A-Za-z]{10}\n/, 'xx\n') }, 'broken-key.json'), 'has a private_key that is not a PEM private key'],
      [keyFile({ private_key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) }, 'ec-key.json'), "has a private_key of type ec; Google's keys are RSA"],
      [keyFile({ token_uri: 'http://oauth2.googleapis.com/token' }, 'http-token-uri.json'), 'has a token_uri on http, not https'],
    ];
    for (const [path, problem] of cases) {
      const error = await withKeyFile(path)().catch((err: unknown) => err as Error);
      expect((error as Error).message).toBe(`GCP credentials: the key file ${path} (GOOGLE_APPLICATION_CREDENTIALS) ${problem} — ${fix}`);
      expectNoSecrets(error as Error);
    }
  });
});

describe('gcpAccessToken from the metadata server', () => {
  it('asks the metadata server for the default service account’s token, with Metadata-Flavor: Google', async () => {
    const queries: unknown[] = [];
    nock(METADATA_HOST)
      .matchHeader('metadata-flavor', 'Google')
      .get(METADATA_PATH)
      .query((query) => queries.push(query) > 0)
      .reply(200, { access_token: 'ya29.c.instance-token', expires_in: 3599, token_type: 'Bearer' }, GOOGLE);
    const getAccessToken = gcpAccessToken({ env: {}, now: () => NOW });

    expect(await getAccessToken()).toBe('ya29.c.instance-token');
    expect(await getAccessToken()).toBe('ya29.c.instance-token');
    expect(queries).toEqual([{}]);
  });

  it('goes to GCE_METADATA_HOST, or to the URL given, instead', async () => {
    nock('http://169.254.169.254:8080').get(METADATA_PATH).reply(200, TOKEN_ANSWER, GOOGLE);
    nock('http://127.0.0.1:4999').get(METADATA_PATH).reply(200, { ...TOKEN_ANSWER, access_token: 'from-test-server' }, GOOGLE);

    expect(await gcpAccessToken({ env: { GCE_METADATA_HOST: '169.254.169.254:8080' } })()).toBe('ya29.c.service-account-token');
    expect(await gcpAccessToken({ env: { GCE_METADATA_HOST: 'ignored:1' }, metadataUrl: 'http://127.0.0.1:4999' })()).toBe('from-test-server');
  });

  it('says to set GOOGLE_APPLICATION_CREDENTIALS when there is no metadata server', async () => {
    nock(METADATA_HOST).get(METADATA_PATH).replyWithError(Object.assign(new Error('getaddrinfo ENOTFOUND metadata.google.internal'), { code: 'ENOTFOUND' }));

    await expect(gcpAccessToken({ env: {} })()).rejects.toThrow(
      /^GCP metadata server \(GOOGLE_APPLICATION_CREDENTIALS is not set\): could not reach metadata\.google\.internal \(.*ENOTFOUND.*\) — the hub does not run on Compute Engine, it seems: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key with roles\/compute\.viewer, or run the hub on a Compute Engine instance whose service account has that role$/,
    );
  });

  it('refuses an answer without Metadata-Flavor: Google, which is not the metadata server', async () => {
    nock(METADATA_HOST).get(METADATA_PATH).reply(200, TOKEN_ANSWER, { 'content-type': 'application/json' });

    await expect(gcpAccessToken({ env: {} })()).rejects.toThrow(`metadata.google.internal answered HTTP 200 without Metadata-Flavor: Google, so it is not the metadata server — is a proxy in the way? Otherwise ${NO_CREDENTIALS}`);
  });

  it('says when the instance has no service account', async () => {
    nock(METADATA_HOST).get(METADATA_PATH).reply(404, 'Not Found', { 'metadata-flavor': 'Google' });

    await expect(gcpAccessToken({ env: {} })()).rejects.toThrow('this instance has no service account attached — attach one with roles/compute.viewer');
  });
});

/** Neither the private key (nor any line of it) nor the assertion may reach a message. */
function expectNoSecrets(error: Error, ...secrets: string[]): void {
  const text = `${error.message} ${String(error.stack)} ${JSON.stringify(error)}`;
  for (const line of privateKeyPem.split('\n').filter((l) => l.length > 20)) expect(text).not.toContain(line);
  expect(text).not.toContain('PRIVATE KEY');
  for (const secret of secrets) expect(text).not.toContain(secret);
}
