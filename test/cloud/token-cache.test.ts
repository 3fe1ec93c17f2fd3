import { describe, expect, it } from 'vitest';
import { cacheAccessToken, REFRESH_MARGIN_MS, RETRY_AFTER_FAILURE_MS, type FetchedToken } from '../../app/cloud/token-cache.js';

const HOUR = 3_600_000;

/** A token source that answers from a script, one entry per call, counting the calls; and a clock the test moves. */
function scripted(...answers: Array<FetchedToken | Error | Promise<FetchedToken>>) {
  const clock = { now: Date.parse('2025-03-06T12:00:00Z') };
  let calls = 0;
  const fetchToken = async (): Promise<FetchedToken> => {
    const answer = answers[calls++];
    if (answer === undefined) throw new Error(`unexpected call ${calls} of the token source`);
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const getAccessToken = cacheAccessToken(fetchToken, { now: () => clock.now });
  return { getAccessToken, clock, calls: () => calls };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('cacheAccessToken', () => {
  it('asks the source once for as long as the token is fresh', async () => {
    const source = scripted({ token: 't1', expiresInMs: HOUR });

    expect(await source.getAccessToken()).toBe('t1');
    source.clock.now += HOUR / 2;
    expect(await source.getAccessToken()).toBe('t1');
    expect(source.calls()).toBe(1);
  });

  it('refreshes once less than 5 minutes remain', async () => {
    const source = scripted({ token: 't1', expiresInMs: HOUR }, { token: 't2', expiresInMs: HOUR });
    const start = source.clock.now;
    await source.getAccessToken();

    source.clock.now = start + HOUR - REFRESH_MARGIN_MS - 1;
    expect(await source.getAccessToken()).toBe('t1');
    source.clock.now = start + HOUR - REFRESH_MARGIN_MS;
    expect(await source.getAccessToken()).toBe('t2');
    expect(source.calls()).toBe(2);
  });

  it('refreshes at half the lifetime when that comes first', async () => {
    const source = scripted({ token: 't1', expiresInMs: 120_000 }, { token: 't2', expiresInMs: 120_000 });
    const start = source.clock.now;
    await source.getAccessToken();

    source.clock.now = start + 59_999;
    expect(await source.getAccessToken()).toBe('t1');
    source.clock.now = start + 60_000;
    expect(await source.getAccessToken()).toBe('t2');
  });

  it('lets concurrent callers share one request', async () => {
    const answer = deferred<FetchedToken>();
    const source = scripted(answer.promise);

    const both = Promise.all([source.getAccessToken(), source.getAccessToken()]);
    answer.resolve({ token: 't1', expiresInMs: HOUR });

    expect(await both).toEqual(['t1', 't1']);
    expect(source.calls()).toBe(1);
  });

  it('lets concurrent callers share one refresh near expiry too', async () => {
    const answer = deferred<FetchedToken>();
    const source = scripted({ token: 't1', expiresInMs: HOUR }, answer.promise);
    await source.getAccessToken();
    source.clock.now += HOUR - 60_000;

    const all = Promise.all([source.getAccessToken(), source.getAccessToken(), source.getAccessToken()]);
    answer.resolve({ token: 't2', expiresInMs: HOUR });

    expect(await all).toEqual(['t2', 't2', 't2']);
    expect(source.calls()).toBe(2);
  });

  it('does not cache a failure, but repeats it for 5 s instead of asking again', async () => {
    const refused = new Error('invalid_grant');
    const source = scripted(refused, { token: 't1', expiresInMs: HOUR });
    const start = source.clock.now;

    const concurrent = await Promise.allSettled([source.getAccessToken(), source.getAccessToken()]);
    expect(concurrent).toEqual([{ status: 'rejected', reason: refused }, { status: 'rejected', reason: refused }]);
    source.clock.now = start + RETRY_AFTER_FAILURE_MS - 1;
    await expect(source.getAccessToken()).rejects.toBe(refused);
    expect(source.calls()).toBe(1);

    source.clock.now = start + RETRY_AFTER_FAILURE_MS;
    expect(await source.getAccessToken()).toBe('t1');
    expect(source.calls()).toBe(2);
  });

  it('keeps handing out a still-valid token while its refresh fails, and fails once it is about to expire', async () => {
    const refused = new Error('token endpoint down');
    const source = scripted({ token: 't1', expiresInMs: HOUR }, refused, refused, refused);
    const start = source.clock.now;
    await source.getAccessToken();

    source.clock.now = start + HOUR - REFRESH_MARGIN_MS;
    expect(await source.getAccessToken()).toBe('t1');
    source.clock.now += 1_000;
    expect(await source.getAccessToken()).toBe('t1');
    expect(source.calls()).toBe(2);

    source.clock.now += RETRY_AFTER_FAILURE_MS;
    expect(await source.getAccessToken()).toBe('t1');
    expect(source.calls()).toBe(3);

    // 30 s before expiry the token is no longer handed out: the request carrying it might arrive too late.
    source.clock.now = start + HOUR - 30_000;
    await expect(source.getAccessToken()).rejects.toBe(refused);
    expect(source.calls()).toBe(4);
  });
});
