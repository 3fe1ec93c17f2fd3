import { describe, expect, it } from 'vitest';
import { parseWwwAuthenticate } from '../../../lib/oci/parse-www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  it.each([
    [
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/site:pull"',
      { scheme: 'bearer', params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:acme/site:pull' } },
    ],
    ['Basic realm="Registry Realm"', { scheme: 'basic', params: { realm: 'Registry Realm' } }],
    ['bearer Realm="https://a.test/t" , Service = reg', { scheme: 'bearer', params: { realm: 'https://a.test/t', service: 'reg' } }],
    ['Bearer realm="a\\"b",error="insufficient_scope"', { scheme: 'bearer', params: { realm: 'a"b', error: 'insufficient_scope' } }],
    ['Bearer realm="https://a.test/t", Basic realm="x"', { scheme: 'bearer', params: { realm: 'https://a.test/t' } }],
  ])('%s', (header, expected) => {
    expect({ ...parseWwwAuthenticate(header), params: { ...parseWwwAuthenticate(header)?.params } }).toEqual(expected);
  });

  it.each([[undefined], [''], ['Bearer realm="unterminated'], ['Bearer realm=,'], [`Bearer realm="${'x'.repeat(5000)}"`]])('gives undefined for case %#', (header) => {
    expect(parseWwwAuthenticate(header)).toBeUndefined();
  });
});
