import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { getJsonPage, parseRetryAfter, readFailure, type JsonApi } from '../../app/cloud/discovery-http.js';

const api: JsonApi = { scopeId: 'gcp/shop-prod', getAccessToken: async () => 'token', remedy: () => 'do the thing' };
const URL_ = new URL('https://compute.googleapis.com/compute/v1/projects/shop-prod/aggregated/instances');

afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-03-06T12:00:00Z');
  it.each([
    ['17', 17_000],
    [' 5 ', 5_000],
    ['0', 1_000],
    ['Thu, 06 Mar 2025 12:00:42 GMT', 42_000],
    ['Thu, 06 Mar 2025 11:00:00 GMT', 1_000],
    ['999999', 3_600_000],
    ['soon', undefined],
    ['-3', undefined],
    ['', undefined],
    [null, undefined],
  ])('%j → %j ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('readFailure', () => {
  it('reads Google’s and ARM’s error bodies alike, and copes with a body that is not JSON', () => {
    expect(readFailure(429, '{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","errors":[{"reason":"rateLimitExceeded"}]}}')).toEqual({
      status: 429,
      code: 'RESOURCE_EXHAUSTED',
      message: 'Quota exceeded',
      reasons: ['rateLimitExceeded'],
    });
    expect(readFailure(403, '{"error":{"code":"AuthorizationFailed","message":"no"}}')).toEqual({ status: 403, code: 'AuthorizationFailed', message: 'no', reasons: [] });
    expect(readFailure(502, '<html>Bad Gateway</html>')).toEqual({ status: 502, reasons: [] });
  });
});

describe('getJsonPage', () => {
  it('says so when something that is not the provider answers', async () => {
    nock('https://compute.googleapis.com').get(URL_.pathname).reply(200, '<html>Sign in to the proxy</html>', { 'content-type': 'text/html' });

    await expect(getJsonPage(api, URL_)).rejects.toThrow('gcp/shop-prod: compute.googleapis.com answered 200 with something that is not JSON — is a proxy in the way?');
  });

  it('names the host it could not reach', async () => {
    nock('https://compute.googleapis.com').get(URL_.pathname).replyWithError(Object.assign(new Error('connect ECONNREFUSED 142.250.0.1:443'), { code: 'ECONNREFUSED' }));

    await expect(getJsonPage(api, URL_)).rejects.toThrow(/^gcp\/shop-prod: could not reach compute.googleapis.com: .*ECONNREFUSED.* — check the hub's outbound network \(DNS, proxy, firewall\)$/);
  });

  it('adds the provider’s remedy to an error it answered', async () => {
    nock('https://compute.googleapis.com').get(URL_.pathname).reply(404, { error: { code: 404, message: 'The resource was not found', status: 'NOT_FOUND' } });

    await expect(getJsonPage(api, URL_)).rejects.toThrow('gcp/shop-prod: compute.googleapis.com answered HTTP 404: NOT_FOUND: The resource was not found — do the thing');
  });
});
