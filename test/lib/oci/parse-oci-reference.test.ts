import { describe, expect, it } from 'vitest';
import { formatOciReference, parseOciReference } from '../../../lib/oci/parse-oci-reference.js';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('parseOciReference', () => {
  it.each([
    ['ghcr.io/acme/shop-site:1.2.0', { registry: 'ghcr.io', repository: 'acme/shop-site', tag: '1.2.0', digest: undefined }],
    [`registry.example.com:5000/team/app@${DIGEST}`, { registry: 'registry.example.com:5000', repository: 'team/app', tag: undefined, digest: DIGEST }],
    ['localhost:5000/x:tag', { registry: 'localhost:5000', repository: 'x', tag: 'tag', digest: undefined }],
    ['localhost/x:tag', { registry: 'localhost', repository: 'x', tag: 'tag', digest: undefined }],
    [`127.0.0.1:40123/a/b/c:v1_2.3-rc1@${DIGEST}`, { registry: '127.0.0.1:40123', repository: 'a/b/c', tag: 'v1_2.3-rc1', digest: DIGEST }],
    ['[::1]:5000/a.b__c--d:1', { registry: '[::1]:5000', repository: 'a.b__c--d', tag: '1', digest: undefined }],
  ])('%s', (text, expected) => {
    expect(parseOciReference(text)).toEqual(expected);
    expect(formatOciReference(parseOciReference(text))).toBe(text);
  });

  it.each([
    ['acme/site:1.0', '`acme/site:1.0` is not an OCI reference: it does not start with a registry host; name it, e.g. `ghcr.io/acme/site:1.2.0` or `docker.io/library/nginx:1.27` (BitEnvoy has no default registry)'],
    ['site:1.0', '`site:1.0` is not an OCI reference: it does not start with a registry host; name it, e.g. `ghcr.io/acme/site:1.2.0` or `docker.io/library/nginx:1.27` (BitEnvoy has no default registry)'],
    ['ghcr.io/acme/site', '`ghcr.io/acme/site` is not an OCI reference: add a tag or a digest, e.g. `ghcr.io/acme/site:1.2.0` or `ghcr.io/acme/site@sha256:…` (there is no default `latest`)'],
    ['ghcr.io/Acme/site:1', '`ghcr.io/Acme/site:1` is not an OCI reference: the repository `Acme/site` has the part `Acme`; each part between slashes must be lower-case letters and digits, separated by `.`, `_`, `__` or dashes'],
    ['ghcr.io/acme//site:1', '`ghcr.io/acme//site:1` is not an OCI reference: the repository `acme//site` has the part ``; each part between slashes must be lower-case letters and digits, separated by `.`, `_`, `__` or dashes'],
    ['ghcr.io/acme/../x:1', '`ghcr.io/acme/../x:1` is not an OCI reference: the repository `acme/../x` has the part `..`; each part between slashes must be lower-case letters and digits, separated by `.`, `_`, `__` or dashes'],
    ['ghcr.io/acme/site:-1', '`ghcr.io/acme/site:-1` is not an OCI reference: the tag `-1` must be 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`'],
    ['ghcr.io/acme/site:', '`ghcr.io/acme/site:` is not an OCI reference: the tag `` must be 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`'],
    ['ghcr.io/acme/site@sha512:abc', '`ghcr.io/acme/site@sha512:abc` is not an OCI reference: the digest `sha512:abc` is not `sha256:` followed by 64 lower-case hex digits (the only algorithm BitEnvoy pins to)'],
    [`ghcr.io/acme/site@${DIGEST.toUpperCase()}`, `\`ghcr.io/acme/site@${DIGEST.toUpperCase()}\` is not an OCI reference: the digest \`${DIGEST.toUpperCase()}\` is not \`sha256:\` followed by 64 lower-case hex digits (the only algorithm BitEnvoy pins to)`],
    ['bad_host.io/acme/site:1', '`bad_host.io/acme/site:1` is not an OCI reference: the registry host `bad_host.io` is not a host name or address with an optional port'],
    ['ghcr.io:port/acme/site:1', '`ghcr.io:port/acme/site:1` is not an OCI reference: the registry host `ghcr.io:port` is not a host name or address with an optional port'],
    ['ghcr.io/:1', '`ghcr.io/:1` is not an OCI reference: the repository after `ghcr.io/` must be 1 to 255 characters'],
    ['', '`` is not an OCI reference: expected 1 to 512 characters like `ghcr.io/acme/site:1.2.0`'],
  ])('refuses %j', (text, message) => {
    expect(() => parseOciReference(text)).toThrow(expect.objectContaining({ code: 'BE_ARTIFACT', message }));
  });

  it('refuses a repository longer than 255 characters and a reference longer than 512', () => {
    expect(() => parseOciReference(`ghcr.io/${'a'.repeat(256)}:1`)).toThrow(/must be 1 to 255 characters/);
    expect(() => parseOciReference(`ghcr.io/a:${'1'.repeat(600)}`)).toThrow(/expected 1 to 512 characters/);
  });
});
