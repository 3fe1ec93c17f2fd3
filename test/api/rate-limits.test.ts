/**
 * The limiters on a fake clock: token buckets refill and forget the least recently used key past their bound;
 * the guess limiter counts only wrong guesses, per address and overall, in bounded memory; the report limits let
 * a real step that prints a lot through untouched and stop a flood; and the client address cannot be made up by
 * a client that talks to the hub directly.
 */
import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { clientAddress, trustedProxies } from '../../app/api/client-address.js';
import { ADMIN_TOKEN_GUESSES, GuessLimiter } from '../../app/api/guess-limiter.js';
import { TokenBuckets } from '../../app/api/rate-limit.js';
import { LOG_POST_LIMITS, ReportLimiter } from '../../app/api/report-limits.js';
import { isErrorCode } from '../../lib/errors.js';

const KiB = 1024;

function clock() {
  const c = { t: 1_000_000, now: () => c.t };
  return c;
}

describe('TokenBuckets', () => {
  it('starts full, refills at its rate up to the burst, and says how long to wait', () => {
    const c = clock();
    const b = new TokenBuckets({ rate: 2, burst: 4, now: c.now });
    expect(b.take('a', 4)).toBe(0);
    expect(b.take('a', 1)).toBe(0.5);
    c.t += 500;
    expect(b.take('a', 1)).toBe(0);
    c.t += 60_000;
    expect(b.wait('a', 4)).toBe(0);
    expect(b.wait('a', 5)).toBe(0); // more than the burst: waits only for a full bucket
    expect(b.take('a', 6)).toBe(0);
    expect(b.wait('a', 1)).toBe(1.5); // …which went below zero
  });

  it('forgets the least recently used key past maxKeys', () => {
    const c = clock();
    const b = new TokenBuckets({ rate: 1, burst: 1, maxKeys: 3, now: c.now });
    for (const key of ['a', 'b', 'c']) b.take(key);
    b.wait('a'); // a is used again: b is now the oldest
    b.take('d');
    expect(b.size).toBe(3);
    expect(b.wait('a')).toBeGreaterThan(0); // remembered
    expect(b.wait('b')).toBe(0); // forgotten: a fresh, full bucket
  });
});

describe('GuessLimiter', () => {
  it('counts only wrong guesses: per address, and overall across addresses', () => {
    const c = clock();
    const g = new GuessLimiter({ what: 'token', perAddress: { burst: 3, perMinute: 6 }, overall: { burst: 5, perMinute: 5 } }, c.now);
    for (let i = 0; i < 3; i++) {
      g.assertMayTry('a');
      g.failed('a');
    }
    expect(g.blocked('a')).toEqual({ seconds: 10, byAddress: true });
    expect(() => g.assertMayTry('a')).toThrow(/too many wrong tokens from your address \(a\); try again in 10 s/);
    g.failed('b');
    g.failed('c');
    // Five wrong guesses overall: every address that guessed wrong waits, told it is not its own doing alone…
    expect(g.blocked('b')).toEqual({ seconds: 12, byAddress: false });
    // …but an address that made no wrong guess is never held back by the others' (they cannot lock it out).
    expect(g.blocked('d')).toBeUndefined();
    try {
      g.assertMayTry('b');
      expect.unreachable();
    } catch (err) {
      expect(isErrorCode(err, 'BE_RATE_LIMITED') && err.details).toEqual({ retryAfterSeconds: 12 });
      expect((err as Error).message).toBe('too many wrong tokens from many addresses; try again in 12 s');
    }
    c.t += 12_000;
    expect(g.blocked('b')).toBeUndefined();
    expect(g.blocked('a')).toBeUndefined();
  });

  it('keeps at most maxAddresses addresses however many guess', () => {
    const g = new GuessLimiter({ ...ADMIN_TOKEN_GUESSES, overall: { burst: 1e9, perMinute: 1e9 }, maxAddresses: 1000 });
    for (let i = 0; i < 50_000; i++) g.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(g.trackedAddresses).toBe(1000);
    // The newest address is remembered with its wrong guess, the oldest forgotten (and starts afresh).
    for (let i = 0; i < 9; i++) {
      g.failed('10.0.195.79');
      g.failed('10.0.0.0');
    }
    expect(g.blocked('10.0.195.79')).toBeDefined();
    expect(g.blocked('10.0.0.0')).toBeUndefined();
  });
});

describe('ReportLimiter', () => {
  it('lets a step that prints 50 MB over two minutes through, as the agent sends it', () => {
    const c = clock();
    const logs = new ReportLimiter('log chunks', LOG_POST_LIMITS, c.now);
    const perFlush = Math.ceil((50 * 1000 * 1000) / (120 * 5)); // 200 ms flushes
    let refused = 0;
    for (let flush = 0; flush < 120 * 5; flush++) {
      c.t += 200;
      const chunks = Math.ceil(perFlush / (16 * KiB));
      try {
        logs.assertNotWaiting('ag_1', 'web-1');
        logs.take('ag_1', 'web-1', { items: chunks, bytes: perFlush });
      } catch {
        refused++;
      }
    }
    expect(refused).toBe(0);
  });

  it('takes a restarted agent\'s backlog of 6 MiB at once', () => {
    const c = clock();
    const logs = new ReportLimiter('log chunks', LOG_POST_LIMITS, c.now);
    for (let i = 0; i < 48; i++) logs.take('ag_1', 'web-1', { items: 8, bytes: 128 * KiB });
  });

  it('stops a flood: 429 with a wait, refused cheaply until then, and taken again after', () => {
    const c = clock();
    const logs = new ReportLimiter('log chunks', LOG_POST_LIMITS, c.now);
    let taken = 0;
    let refusal: unknown;
    for (let i = 0; i < 100 && !refusal; i++) {
      try {
        logs.take('ag_1', 'web-1', { items: 500, bytes: 500 });
        taken += 500;
      } catch (err) {
        refusal = err;
      }
    }
    expect(taken).toBe(2000);
    expect(isErrorCode(refusal, 'BE_RATE_LIMITED') && refusal.details).toEqual({ retryAfterSeconds: 3 });
    expect(() => logs.assertNotWaiting('ag_1', 'web-1')).toThrow(/wait 3 s/);
    // Another agent has its own budget.
    logs.take('ag_2', 'web-2', { items: 500, bytes: 500 });
    c.t += 3000;
    logs.assertNotWaiting('ag_1', 'web-1');
    logs.take('ag_1', 'web-1', { items: 500, bytes: 500 });
    // Empty posts count as one chunk each.
    c.t += 60_000;
    for (let i = 0; i < 2000; i++) logs.take('ag_1', 'web-1', { items: 0 });
    expect(() => logs.take('ag_1', 'web-1', { items: 0 })).toThrow(/wait 1 s/);
  });
});

describe('clientAddress', () => {
  const ctx = (peer: string, ip: string) => ({ ip, req: { socket: { remoteAddress: peer } } }) as unknown as Context;

  it.each([
    ['a client straight on the internet: its own address, whatever X-Forwarded-For says', '198.51.100.7', '10.9.9.9', '198.51.100.7'],
    ['behind a proxy on loopback: the address the proxy wrote', '127.0.0.1', '203.0.113.9', '203.0.113.9'],
    ['a client in the private network, no proxy configured there: its own address, whatever it says', '::ffff:10.1.2.3', '203.0.113.9', '10.1.2.3'],
    ['an IPv4 client on a dual-stack socket', '::ffff:198.51.100.7', '::ffff:198.51.100.7', '198.51.100.7'],
    ['an IPv6 client, by its /64', '2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['an IPv6 client written short', '2001:db8::1', '2001:db8::1', '2001:db8:0:0::/64'],
    ['an IPv6 client behind an IPv6 proxy', '::1', '2001:db8:5:6::9', '2001:db8:5:6::/64'],
  ])('%s', (_what, peer, ip, expected) => {
    expect(clientAddress(ctx(peer, ip))).toBe(expected);
  });

  it('believes X-Forwarded-For only from the proxies BITENVOY_TRUSTED_PROXIES names', () => {
    const behind = (peer: string, ip: string) => ({ ...ctx(peer, ip), trustedProxies: trustedProxies('10.1.0.0/16, 192.0.2.7') }) as unknown as Context;
    expect(clientAddress(behind('::ffff:10.1.2.3', '203.0.113.9'))).toBe('203.0.113.9');
    expect(clientAddress(behind('192.0.2.7', '203.0.113.9'))).toBe('203.0.113.9');
    expect(clientAddress(behind('10.2.0.1', '203.0.113.9'))).toBe('10.2.0.1');
    expect(clientAddress(behind('127.0.0.1', '203.0.113.9'))).toBe('127.0.0.1');
    expect(() => trustedProxies('10.0.0.0/8,proxy.local')).toThrow('BITENVOY_TRUSTED_PROXIES: `proxy.local` is not an IP address or a CIDR block like `10.0.0.0/8`');
    expect(() => trustedProxies('10.0.0.0/33')).toThrow(/`10.0.0.0\/33` is not/);
  });
});
