import type { ParsedUrlQuery } from 'node:querystring';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { azureAccessToken } from '../../app/cloud/token-azure.js';

const NOW = Date.parse('2025-03-06T12:00:00Z');
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
// Entra ID secrets contain `~`, `.`, `_` and `-`; `+`, `/` and `=` make sure the form really is encoded.
const SECRET = 'Qx8Q~abc.DEF_ghi-JKL+mno/pqr=';
const SECRET_ENV = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: SECRET };
const LOGIN = 'https://login.microsoftonline.com';
const TOKEN_PATH = `/${TENANT}/oauth2/v2.0/token`;
/** Written out by hand, not built with URLSearchParams: the test must not share the code's encoder. */
const EXPECTED_FORM = `grant_type=client_credentials&client_id=${CLIENT}&client_secret=Qx8Q%7Eabc.DEF_ghi-JKL%2Bmno%2Fpqr%3D&scope=https%3A%2F%2Fmanagement.azure.com%2F.default`;
const ENTRA_ANSWER = { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'eyJ0eXAiOiJKV1Qi.client-secret-token.sig' };
const IMDS = 'http://169.254.169.254';
const IMDS_PATH = '/metadata/identity/oauth2/token';
const IMDS_ANSWER = {
  access_token: 'eyJ0eXAiOiJKV1Qi.managed-identity-token.sig',
  client_id: '5b6c7d8e-9f00-4a1b-8c2d-3e4f5a6b7c8d',
  expires_in: '86399',
  expires_on: String(NOW / 1000 + 86399),
  ext_expires_in: '86399',
  not_before: String(NOW / 1000),
  resource: 'https://management.azure.com/',
  token_type: 'Bearer',
};
const NO_CREDENTIALS = 'set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for an app registration with the Reader role on each subscription, or run the hub on an Azure VM whose managed identity has that role';

function recordBodies(scope: nock.Scope): string[] {
  const bodies: string[] = [];
  scope.on('request', (_req: unknown, _interceptor: unknown, body: string) => bodies.push(body));
  return bodies;
}

/** An IMDS interceptor query matcher that records every query it sees. */
function recordQuery(queries: ParsedUrlQuery[]) {
  return (query: ParsedUrlQuery) => queries.push(query) > 0;
}

async function messageOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(Error);
  return (error as Error).message;
}

afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

describe('azureAccessToken with a client secret (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)', () => {
  it('posts exactly the client credentials form for ARM’s .default scope', async () => {
    const scope = nock(LOGIN).matchHeader('content-type', 'application/x-www-form-urlencoded').post(TOKEN_PATH).reply(200, ENTRA_ANSWER);
    const bodies = recordBodies(scope);

    expect(await azureAccessToken({ env: SECRET_ENV })()).toBe('eyJ0eXAiOiJKV1Qi.client-secret-token.sig');
    expect(bodies).toEqual([EXPECTED_FORM]);
  });

  it('requests once for two calls, and again when less than 5 minutes remain', async () => {
    const clock = { now: NOW };
    nock(LOGIN).post(TOKEN_PATH).reply(200, ENTRA_ANSWER).post(TOKEN_PATH).reply(200, { ...ENTRA_ANSWER, access_token: 'second' });
    const getAccessToken = azureAccessToken({ env: SECRET_ENV, now: () => clock.now });

    await getAccessToken();
    clock.now += (3599 - 301) * 1000;
    expect(await getAccessToken()).toBe('eyJ0eXAiOiJKV1Qi.client-secret-token.sig');
    expect(nock.pendingMocks()).toHaveLength(1);
    clock.now += 1000;
    expect(await getAccessToken()).toBe('second');
  });

  it('shares one request between concurrent calls', async () => {
    nock(LOGIN).post(TOKEN_PATH).delay(50).reply(200, ENTRA_ANSWER);
    const getAccessToken = azureAccessToken({ env: SECRET_ENV });

    expect(new Set(await Promise.all([getAccessToken(), getAccessToken()]))).toEqual(new Set([ENTRA_ANSWER.access_token]));
  });

  it('uses AZURE_AUTHORITY_HOST as the authority, and the resource given for the scope', async () => {
    const scope = nock('https://login.microsoftonline.us').post(TOKEN_PATH).reply(200, ENTRA_ANSWER);
    const bodies = recordBodies(scope);

    await azureAccessToken({ env: { ...SECRET_ENV, AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.us/' }, resource: 'https://management.usgovcloudapi.net' })();

    expect(new URLSearchParams(bodies[0]).get('scope')).toBe('https://management.usgovcloudapi.net/.default');
  });

  it('passes the AADSTS code and description on with the remedy, never the secret', async () => {
    const description = `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${CLIENT}'.\r\nTrace ID: 0a1b2c3d-0000-4000-8000-000000000000\r\nCorrelation ID: 1b2c3d4e-0000-4000-8000-000000000000\r\nTimestamp: 2025-03-06 12:00:00Z`;
    nock(LOGIN).post(TOKEN_PATH).reply(401, { error: 'invalid_client', error_description: description, error_codes: [7000215] });

    const message = await messageOf(azureAccessToken({ env: SECRET_ENV })());

    expect(message).toBe(
      `Azure token request for client ${CLIENT} in tenant ${TENANT} at login.microsoftonline.com was refused: HTTP 401: invalid_client: ${description.replace(/\r\n/g, ' ')} — AZURE_CLIENT_SECRET must be the secret's value (shown once, when it was created), not its secret ID`,
    );
    expect(message).not.toContain(SECRET);
  });

  it('redacts the secret even when the token endpoint echoes it', async () => {
    nock(LOGIN).post(TOKEN_PATH).reply(400, { error: 'invalid_request', error_description: `client_secret ${SECRET} is malformed` });

    const message = await messageOf(azureAccessToken({ env: SECRET_ENV })());

    expect(message).toContain('invalid_request: client_secret [redacted] is malformed');
    expect(message).not.toContain(SECRET);
  });

  it('tries a refused request again, but not within 5 s', async () => {
    const clock = { now: NOW };
    nock(LOGIN)
      .post(TOKEN_PATH)
      .reply(400, { error: 'invalid_request', error_description: "AADSTS90002: Tenant '72f988bf-86f1-41af-91ab-2d7cd011db47' not found." })
      .post(TOKEN_PATH)
      .reply(200, ENTRA_ANSWER);
    const getAccessToken = azureAccessToken({ env: SECRET_ENV, now: () => clock.now });

    await expect(getAccessToken()).rejects.toThrow('AADSTS90002');
    clock.now += 4_999;
    await expect(getAccessToken()).rejects.toThrow('no such tenant: check AZURE_TENANT_ID');
    expect(nock.pendingMocks()).toHaveLength(1);
    clock.now += 1;
    expect(await getAccessToken()).toBe(ENTRA_ANSWER.access_token);
  });

  it.each([
    [{ AZURE_CLIENT_SECRET: SECRET, AZURE_CLIENT_ID: CLIENT }, "Azure credentials: AZURE_CLIENT_SECRET is set but AZURE_TENANT_ID not — set the app registration's directory (tenant) id and application (client) id, or unset AZURE_CLIENT_SECRET to use the VM's managed identity"],
    [{ AZURE_CLIENT_SECRET: SECRET }, "Azure credentials: AZURE_CLIENT_SECRET is set but AZURE_TENANT_ID and AZURE_CLIENT_ID not — set the app registration's directory (tenant) id and application (client) id, or unset AZURE_CLIENT_SECRET to use the VM's managed identity"],
    [{ ...SECRET_ENV, AZURE_AUTHORITY_HOST: 'http://login.example.test' }, 'Azure credentials: AZURE_AUTHORITY_HOST http://login.example.test is not https; the client secret is only sent over https — fix or unset it'],
    [{ AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_CERTIFICATE_PATH: '/etc/bitenvoy/sp.pem' }, `Azure credentials: AZURE_CLIENT_CERTIFICATE_PATH is set, but the hub supports only a client secret or a managed identity — ${NO_CREDENTIALS}, and unset AZURE_CLIENT_CERTIFICATE_PATH`],
  ])('refuses incomplete or unsupported settings without a request: %j', async (env, expected) => {
    const message = await messageOf(azureAccessToken({ env })());
    expect(message).toBe(expected);
    expect(message).not.toContain(SECRET);
  });
});

describe('azureAccessToken from the managed identity (IMDS)', () => {
  it('asks IMDS for an ARM token of the system-assigned identity, with Metadata: true', async () => {
    const queries: ParsedUrlQuery[] = [];
    nock(IMDS).matchHeader('metadata', 'true').get(IMDS_PATH).query(recordQuery(queries)).reply(200, IMDS_ANSWER);
    const getAccessToken = azureAccessToken({ env: {} });

    expect(await getAccessToken()).toBe(IMDS_ANSWER.access_token);
    expect(await getAccessToken()).toBe(IMDS_ANSWER.access_token);
    expect(queries).toEqual([{ 'api-version': '2018-02-01', resource: 'https://management.azure.com/' }]);
  });

  it('asks for the user-assigned identity AZURE_CLIENT_ID names', async () => {
    const queries: ParsedUrlQuery[] = [];
    nock('http://127.0.0.1:4999').matchHeader('metadata', 'true').get(IMDS_PATH).query(recordQuery(queries)).reply(200, IMDS_ANSWER);

    await azureAccessToken({ env: { AZURE_CLIENT_ID: CLIENT }, imdsUrl: 'http://127.0.0.1:4999' })();

    expect(queries).toEqual([{ 'api-version': '2018-02-01', resource: 'https://management.azure.com/', client_id: CLIENT }]);
  });

  it('reads expires_in as a string, and expires_on when that is all there is', async () => {
    const clock = { now: NOW };
    const { expires_in: _relative, ...absoluteOnly } = IMDS_ANSWER;
    nock(IMDS)
      .get(IMDS_PATH)
      .query(true)
      .reply(200, IMDS_ANSWER)
      .get(IMDS_PATH)
      .query(true)
      .reply(200, { ...absoluteOnly, access_token: 'second', expires_on: String(NOW / 1000 + 86399 + 3600) });
    const getAccessToken = azureAccessToken({ env: {}, now: () => clock.now });

    await getAccessToken();
    clock.now += (86399 - 301) * 1000;
    expect(await getAccessToken()).toBe(IMDS_ANSWER.access_token);
    clock.now += 1000;
    expect(await getAccessToken()).toBe('second');
    // The second token expires an hour after the first, so it is good until 5 minutes before that.
    clock.now = NOW + (86399 + 3600 - 301) * 1000;
    expect(await getAccessToken()).toBe('second');
  });

  it('says what to set when there is no IMDS', async () => {
    nock(IMDS).get(IMDS_PATH).query(true).replyWithError(Object.assign(new Error('connect EHOSTUNREACH 169.254.169.254:80'), { code: 'EHOSTUNREACH' }));

    const message = await messageOf(azureAccessToken({ env: {} })());

    expect(message).toMatch(/^Azure managed identity \(AZURE_CLIENT_SECRET is not set\): could not reach 169\.254\.169\.254 \(.*EHOSTUNREACH.*\) — the hub does not run on an Azure VM, it seems: /);
    expect(message.endsWith(NO_CREDENTIALS)).toBe(true);
  });

  it.each([
    [{}, { error: 'invalid_request', error_description: 'Identity not found' }, 'invalid_request: Identity not found — this VM has no managed identity: enable one and give it the Reader role on each subscription, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for an app registration that has it'],
    [{ AZURE_CLIENT_ID: CLIENT }, { error: 'invalid_request', error_description: 'Identity not found' }, `invalid_request: Identity not found — no identity with client id ${CLIENT} is assigned to this VM: assign it, or correct AZURE_CLIENT_ID`],
    [{}, { error: 'invalid_request', error_description: 'Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request' }, 'invalid_request: Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request — this VM has several user-assigned identities: set AZURE_CLIENT_ID to the client id of the one with the Reader role'],
  ])('explains IMDS refusals: %j %j', async (env, answer, expected) => {
    nock(IMDS).get(IMDS_PATH).query(true).reply(400, answer);

    expect(await messageOf(azureAccessToken({ env })())).toContain(`IMDS answered HTTP 400: ${expected}`);
  });
});
