import { readFileSync } from 'node:fs';
import type { ParsedUrlQuery } from 'node:querystring';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { ThrottledError, type CloudInstance } from '../../app/cloud/cloud-instance.js';
import { gcpScopes } from '../../app/cloud/discovery-gcp.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/cloud/${name}`, import.meta.url), 'utf8');
const JSON_TYPE = { 'content-type': 'application/json; charset=UTF-8' };
const COMPUTE = 'https://compute.googleapis.com';
const LIST = '/compute/v1/projects/shop-prod/aggregated/instances';
const PAGE_2_TOKEN = 'Cg5wYWdlLTItb2YtdHdvEgd3b3JrZXI=';

function scope(getAccessToken = async () => 'ya29.test-token') {
  const [only] = gcpScopes({ projects: ['shop-prod'], getAccessToken });
  return only!;
}

/** The documented query of `instances.aggregatedList`: partial success on, and the page token of the page wanted. */
function page(token: string | undefined, seen: ParsedUrlQuery[]) {
  return (query: ParsedUrlQuery) => {
    const ok = query['returnPartialSuccess'] === 'true' && query['pageToken'] === token && Object.keys(query).length === (token ? 2 : 1);
    if (ok) seen.push(query);
    return ok;
  };
}

afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

describe('gcpScopes', () => {
  it('lists every page of the aggregated list with the bearer token, labels as tags', async () => {
    const seen: ParsedUrlQuery[] = [];
    nock(COMPUTE)
      .matchHeader('authorization', 'Bearer ya29.test-token')
      .get(LIST)
      .query(page(undefined, seen))
      .reply(200, fixture('gcp-instances-aggregated.page-1.json'), JSON_TYPE)
      .get(LIST)
      .query(page(PAGE_2_TOKEN, seen))
      .reply(200, fixture('gcp-instances-aggregated.page-2.json'), JSON_TYPE);

    const gcp = scope();
    const instances = await gcp.list();

    expect({ id: gcp.id, provider: gcp.provider, account: gcp.account }).toEqual({ id: 'gcp/shop-prod', provider: 'gcp', account: 'shop-prod' });
    expect(seen.map((q) => q['pageToken'])).toEqual([undefined, PAGE_2_TOKEN]);
    expect(instances).toEqual<CloudInstance[]>([
      {
        provider: 'gcp',
        account: 'shop-prod',
        region: 'europe-west1',
        zone: 'europe-west1-b',
        instanceId: '4567890123456789012',
        instanceType: 'e2-medium',
        // The first interface's address, not nic1's.
        privateIp: '10.132.0.5',
        // Labels only: the network tags `http-server`, `https-server` are not key/value and are left out.
        tags: { env: 'prod', role: 'web', 'cost-center': 'r-and-d' },
      },
      // Stopped (TERMINATED in GCP's words) is still an instance; it has no labels.
      { provider: 'gcp', account: 'shop-prod', region: 'us-central1', zone: 'us-central1-a', instanceId: '9876543210987654321', instanceType: 'n2-standard-4', privateIp: '10.128.0.17', tags: {} },
    ]);
  });

  it('rejects a listing with an unreachable zone, so the last good snapshot stays', async () => {
    nock(COMPUTE).get(LIST).query(page(undefined, [])).reply(200, fixture('gcp-instances-aggregated.zone-unreachable.json'), JSON_TYPE);

    await expect(scope().list()).rejects.toThrow(
      'gcp/shop-prod: Compute Engine could not list zones/europe-west1-d; the listing is incomplete, so the last good one stays — usually a zone outage that passes, retried on the next refresh',
    );
  });

  it('rejects a listing whose top-level unreachables name a zone, even without a zone warning', async () => {
    const body = { kind: 'compute#instanceAggregatedList', items: {}, unreachables: ['zones/asia-east1-a'] };
    nock(COMPUTE).get(LIST).query(page(undefined, [])).reply(200, body);

    await expect(scope().list()).rejects.toThrow(/^gcp\/shop-prod: Compute Engine could not list zones\/asia-east1-a;/);
  });

  it('rejects the whole listing when a later page fails: no partial result', async () => {
    nock(COMPUTE)
      .get(LIST)
      .query(page(undefined, []))
      .reply(200, fixture('gcp-instances-aggregated.page-1.json'), JSON_TYPE)
      .get(LIST)
      .query(page(PAGE_2_TOKEN, []))
      .reply(503, { error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } });

    await expect(scope().list()).rejects.toThrow(
      'gcp/shop-prod: compute.googleapis.com answered HTTP 503: UNAVAILABLE: The service is currently unavailable. — a Google-side error; retried on the next refresh',
    );
  });

  it('turns 429 RESOURCE_EXHAUSTED into a ThrottledError that keeps the Retry-After', async () => {
    nock(COMPUTE).get(LIST).query(page(undefined, [])).reply(429, fixture('gcp-error.rate-limit-exceeded.json'), { ...JSON_TYPE, 'retry-after': '20' });

    const failure = await scope().list().catch((err: unknown) => err);

    expect(failure).toBeInstanceOf(ThrottledError);
    expect((failure as ThrottledError).retryAfterMs).toBe(20_000);
    expect((failure as Error).message).toMatch(/^gcp\/shop-prod: compute.googleapis.com answered HTTP 429: RESOURCE_EXHAUSTED: Quota exceeded .* — throttled; trying again in 20 s$/);
  });

  it('treats the older 403 rateLimitExceeded as throttling too, with a default wait', async () => {
    const body = { error: { code: 403, message: 'Rate Limit Exceeded', errors: [{ message: 'Rate Limit Exceeded', domain: 'usageLimits', reason: 'rateLimitExceeded' }] } };
    nock(COMPUTE).get(LIST).query(page(undefined, [])).reply(403, body);

    const failure = await scope().list().catch((err: unknown) => err);

    expect(failure).toBeInstanceOf(ThrottledError);
    expect((failure as ThrottledError).retryAfterMs).toBe(30_000);
  });

  it('says which permission is missing', async () => {
    nock(COMPUTE).get(LIST).query(page(undefined, [])).reply(403, fixture('gcp-error.permission-denied.json'), JSON_TYPE);

    await expect(scope().list()).rejects.toThrow(
      "gcp/shop-prod: compute.googleapis.com answered HTTP 403: Required 'compute.instances.list' permission for 'projects/shop-prod' — the hub's service account needs compute.instances.list on project shop-prod (roles/compute.viewer), and the Compute Engine API must be enabled there",
    );
  });

  it('says when no token could be had, without calling Google', async () => {
    const failing = scope(async () => Promise.reject(new Error('Could not load the default credentials')));

    await expect(failing.list()).rejects.toThrow(
      "gcp/shop-prod: could not get an access token: Could not load the default credentials — check the hub's credentials for this provider",
    );
  });

  it('abandons a listing whose page token comes back again instead of looping forever', async () => {
    const looping = { kind: 'compute#instanceAggregatedList', items: {}, nextPageToken: 'again' };
    nock(COMPUTE).get(LIST).query(page(undefined, [])).reply(200, looping).get(LIST).query(page('again', [])).reply(200, looping);

    await expect(scope().list()).rejects.toThrow(/^gcp\/shop-prod: compute.googleapis.com sent the same next page twice;/);
  });
});
