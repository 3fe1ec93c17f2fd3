import { describe, expect, it } from 'vitest';
import { withoutCredentials, withoutCredentialsIn } from '../../lib/redact-url.js';

describe('withoutCredentials', () => {
  it.each([
    ['https://user:TOKEN@git.example.com/acme/shop.git', 'https://***@git.example.com/acme/shop.git'],
    ['https://ghp_abc123@github.com/acme/shop', 'https://***@github.com/acme/shop'],
    ["fatal: unable to access 'http://deploy:s%40cret@127.0.0.1:8080/a/b.git/': 403", "fatal: unable to access 'http://***@127.0.0.1:8080/a/b.git/': 403"],
    ['two: https://a:b@x.test/1 and git://c:d@y.test/2', 'two: https://***@x.test/1 and git://***@y.test/2'],
    ['ssh://git@github.com/acme/shop.git', 'ssh://git@github.com/acme/shop.git'],
    ['ssh://git:pw@host/acme/shop.git', 'ssh://***@host/acme/shop.git'],
    ['https://git.example.com/acme/shop.git', 'https://git.example.com/acme/shop.git'],
    ['mail me at someone@example.com', 'mail me at someone@example.com'],
    ['https://host/path?to=a@b', 'https://host/path?to=a@b'],
    ['x_https://u:tok@h/r', 'x_https://***@h/r'],
    ['1https://u:tok@h/r', '1https://***@h/r'],
    ["https://u:to'k@h/r", 'https://***@h/r'],
  ])('%s', (text, clean) => {
    expect(withoutCredentials(text)).toBe(clean);
  });

  it('cleans every string inside a value, and returns the value itself when there is nothing to clean', () => {
    const clean = { a: 1, b: ['https://x.test/r'] };
    expect(withoutCredentialsIn(clean)).toBe(clean);
    expect(withoutCredentialsIn({ gitUrl: 'https://u:t@x.test/r.git', jobs: [{ git: { url: 'https://u:t@x.test/r.git' } }] })).toEqual({
      gitUrl: 'https://***@x.test/r.git',
      jobs: [{ git: { url: 'https://***@x.test/r.git' } }],
    });
  });
});
