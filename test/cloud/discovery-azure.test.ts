import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { ThrottledError, type CloudInstance } from '../../app/cloud/cloud-instance.js';
import { azureScopes } from '../../app/cloud/discovery-azure.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/cloud/${name}`, import.meta.url), 'utf8');
const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };
const ARM = 'https://management.azure.com';
const SUB = '8f9c5b2e-3a4d-4e6f-9a1b-2c3d4e5f6a7b';
const VMS = `/subscriptions/${SUB}/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01`;
const NICS = `/subscriptions/${SUB}/providers/Microsoft.Network/networkInterfaces?api-version=2024-05-01`;
// Exactly the nextLink of azure-virtual-machines.page-1.json, path and query as ARM wrote them.
const VMS_PAGE_2 = `/subscriptions/${SUB}/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01&$skiptoken=eyJuZXh0IjoicGFnZS0yIn0%3D`;

function scope(getAccessToken = async () => 'eyJ0eXAi.test-token') {
  const [only] = azureScopes({ subscriptions: [SUB], getAccessToken });
  return only!;
}

/** Matches one exact request path with its query, and records it. */
function exactly(path: string, seen: string[]) {
  return (uri: string) => {
    if (uri !== path) return false;
    seen.push(uri);
    return true;
  };
}

afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

describe('azureScopes', () => {
  it('lists every VM page (following nextLink exactly) and joins each VM to its primary NIC’s primary IP', async () => {
    const seen: string[] = [];
    nock(ARM)
      .matchHeader('authorization', 'Bearer eyJ0eXAi.test-token')
      .get(exactly(VMS, seen))
      .reply(200, fixture('azure-virtual-machines.page-1.json'), JSON_TYPE)
      .get(exactly(VMS_PAGE_2, seen))
      .reply(200, fixture('azure-virtual-machines.page-2.json'), JSON_TYPE)
      .get(exactly(NICS, seen))
      .reply(200, fixture('azure-network-interfaces.json'), JSON_TYPE);

    const azure = scope();
    const instances = await azure.list();

    expect({ id: azure.id, provider: azure.provider, account: azure.account }).toEqual({ id: `azure/${SUB}`, provider: 'azure', account: SUB });
    expect(seen).toEqual([VMS, VMS_PAGE_2, NICS]);
    expect(instances).toEqual<CloudInstance[]>([
      {
        provider: 'azure',
        account: SUB,
        region: 'westeurope',
        zone: '2',
        instanceId: '0f4a1f6e-5c2b-4f2e-9d6a-7b8c9d0e1f2a',
        instanceType: 'Standard_D2s_v5',
        // The VM says SHOP-RG, the NIC list says shop-rg: ARM ids are case-insensitive.
        privateIp: '10.1.0.4',
        tags: { Role: 'web', 'Cost Center': 'R&D 42', 'team:owner': 'platform', 'hidden-title': '' },
      },
      // No zone; the NIC marked primary (the second) and, on it, the IP configuration marked primary (the second).
      { provider: 'azure', account: SUB, region: 'northeurope', instanceId: '5d6e7f80-1a2b-4c3d-8e9f-a0b1c2d3e4f5', instanceType: 'Standard_E4s_v5', privateIp: '10.2.0.5', tags: {} },
    ]);
  });

  it('refuses a nextLink to another host: the token is never sent there', async () => {
    const page = JSON.parse(fixture('azure-virtual-machines.page-1.json')) as { nextLink: string };
    page.nextLink = 'https://attacker.example/collect?api-version=2024-07-01';
    nock(ARM).get(exactly(VMS, [])).reply(200, page);

    await expect(scope().list()).rejects.toThrow(
      `azure/${SUB}: ARM sent a nextLink to https://attacker.example, not https://management.azure.com; the access token is not sent there, so the listing is abandoned — check for a proxy rewriting responses`,
    );
  });

  it('turns 429 into a ThrottledError that keeps the Retry-After', async () => {
    nock(ARM).get(exactly(VMS, [])).reply(429, fixture('azure-error.subscription-throttled.json'), { ...JSON_TYPE, 'retry-after': '17' });

    const failure = await scope().list().catch((err: unknown) => err);

    expect(failure).toBeInstanceOf(ThrottledError);
    expect((failure as ThrottledError).retryAfterMs).toBe(17_000);
    expect((failure as Error).message).toMatch(/^azure\/8f9c5b2e-3a4d-4e6f-9a1b-2c3d4e5f6a7b: management.azure.com answered HTTP 429: SubscriptionRequestsThrottled: Number of 'read' requests .* — throttled; trying again in 17 s$/);
  });

  it('rejects the whole listing when the NIC listing fails after the VMs arrived, and says which role is missing', async () => {
    nock(ARM)
      .get(exactly(VMS, []))
      .reply(200, fixture('azure-virtual-machines.page-2.json'), JSON_TYPE)
      .get(exactly(NICS, []))
      .reply(403, fixture('azure-error.authorization-failed.json'), JSON_TYPE);

    await expect(scope().list()).rejects.toThrow(
      new RegExp(
        `^azure/${SUB}: management.azure.com answered HTTP 403: AuthorizationFailed: The client .* does not have authorization to perform action 'Microsoft.Network/networkInterfaces/read' .* — the hub's identity needs Microsoft.Compute/virtualMachines/read and Microsoft.Network/networkInterfaces/read on subscription ${SUB} \\(the Reader role\\)$`,
      ),
    );
  });

  it('rejects the whole listing when a later VM page fails: no partial result', async () => {
    nock(ARM)
      .get(exactly(VMS, []))
      .reply(200, fixture('azure-virtual-machines.page-1.json'), JSON_TYPE)
      .get(exactly(VMS_PAGE_2, []))
      .reply(500, { error: { code: 'InternalServerError', message: 'An unexpected error occured while processing the request.' } });

    await expect(scope().list()).rejects.toThrow(
      `azure/${SUB}: management.azure.com answered HTTP 500: InternalServerError: An unexpected error occured while processing the request. — an Azure-side error; retried on the next refresh`,
    );
  });

  it('says when the token is refused', async () => {
    nock(ARM)
      .get(exactly(VMS, []))
      .reply(401, { error: { code: 'InvalidAuthenticationToken', message: 'The access token is invalid.' } });

    await expect(scope().list()).rejects.toThrow(/answered HTTP 401: InvalidAuthenticationToken: The access token is invalid\. — the access token was refused: check the hub's Azure credentials/);
  });

  it('does not follow a redirect, which would carry the token elsewhere', async () => {
    nock(ARM).get(exactly(VMS, [])).reply(302, '', { location: 'https://attacker.example/collect' });

    await expect(scope().list()).rejects.toThrow(
      `azure/${SUB}: management.azure.com answered HTTP 302, a redirect to https://attacker.example/collect; not followed, since the access token would go along — is a proxy in the way?`,
    );
  });
});
