/**
 * A hub that has been tampered with cannot choose other bytes than the commit declares: what it resolved is matched
 * against the commit's own `artifacts:` (agent/artifacts/match-declared.ts), and what it sends is re-checked field by
 * field, unknown fields dropped, tokens taken from the claim only (agent/check-job-artifacts.ts).
 */
import { describe, expect, it } from 'vitest';
import { matchDeclared } from '../../../agent/artifacts/match-declared.js';
import { artifactTokens, checkJobArtifacts } from '../../../agent/check-job-artifacts.js';
import type { Artifact } from '../../../config-schema/types.generated.js';
import type { JobArtifact } from '../../../lib/protocol.js';

const SHA = '4f2c1a9'.padEnd(40, '0');
const DIGEST = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const spec = { sha: SHA };

describe('matchDeclared', () => {
  const url: Artifact = { name: 'site', url: { url: 'https://cdn.acme.com/site-{shortSha}.tgz', sha256: DIGEST } };
  const oci: Artifact = { name: 'app', oci: { reference: 'ghcr.io/acme/app:sha-{sha}' } };

  it('takes a url artifact at the declared URL, with the declared digest whatever the hub says', () => {
    const resolved: JobArtifact = { name: 'site', source: 'url', url: 'https://cdn.acme.com/site-4f2c1a9.tgz', sha256: OTHER };
    expect(matchDeclared(url, resolved, spec)).toEqual({ source: { kind: 'url', url: 'https://cdn.acme.com/site-4f2c1a9.tgz' }, sha256: DIGEST });
  });

  it.each([
    ['nothing for it', undefined, /sent nothing for artifact `site`/],
    ['another kind', { name: 'site', source: 'oci', oci: { registry: 'ghcr.io', repository: 'x/y', digest: `sha256:${DIGEST}` } }, /as a oci artifact, but the commit declares it from `url`/],
    ['another URL', { name: 'site', source: 'url', url: 'https://evil.example/site.tgz', sha256: DIGEST }, /from https:\/\/evil\.example\/site\.tgz, but the commit declares https:\/\/cdn\.acme\.com\/site-4f2c1a9\.tgz/],
  ] as const)('refuses a hub that sends %s', (_what, resolved, reason) => {
    const matched = matchDeclared(url, resolved as JobArtifact | undefined, spec);
    expect('problem' in matched && matched.problem).toMatch(reason);
  });

  it("takes an oci artifact from the declared repository at the hub's digest, and refuses another repository or a pinned digest changed", () => {
    const resolved: JobArtifact = { name: 'app', source: 'oci', oci: { registry: 'ghcr.io', repository: 'acme/app', digest: `sha256:${DIGEST}` } };
    expect(matchDeclared(oci, resolved, spec)).toEqual({ source: { kind: 'oci', registry: 'ghcr.io', repository: 'acme/app' } });
    const elsewhere = { ...resolved, oci: { ...resolved.oci!, repository: 'evil/app' } };
    expect(matchDeclared(oci, elsewhere, spec)).toMatchObject({ problem: expect.stringContaining('but the commit declares ghcr.io/acme/app') });
    const pinned: Artifact = { name: 'app', oci: { reference: `ghcr.io/acme/app@sha256:${DIGEST}` } };
    const repinned = { ...resolved, oci: { ...resolved.oci!, digest: `sha256:${OTHER}` } };
    expect(matchDeclared(pinned, repinned, spec)).toMatchObject({ problem: expect.stringContaining('but the commit pins') });
  });

  it('passes a GitHub artifact on with its URL, for the allowlist to judge', () => {
    const declared: Artifact = { name: 'app', githubActions: { workflow: 'build.yml', artifact: 'app' } };
    const resolved: JobArtifact = { name: 'app', source: 'github-actions', url: 'https://api.github.com/repos/acme/shop/actions/artifacts/7/zip', sha256: DIGEST };
    expect(matchDeclared(declared, resolved, spec)).toEqual({ source: { kind: 'github-actions', url: resolved.url } });
    expect(matchDeclared(declared, { ...resolved, url: undefined } as JobArtifact, spec)).toMatchObject({ problem: expect.stringContaining('without a download URL') });
  });
});

describe('checkJobArtifacts', () => {
  it('rebuilds each artifact from known fields only, and takes no token from the job itself', () => {
    const sent = [{ name: 'site', source: 'url', url: 'https://cdn.acme.com/a.tgz', sha256: DIGEST, size: 10, token: 'ghs_x', command: 'rm -rf /', described: 'a\u0007b' }];
    expect(checkJobArtifacts(sent)).toEqual({ artifacts: [{ name: 'site', source: 'url', url: 'https://cdn.acme.com/a.tgz', sha256: DIGEST, size: 10, described: 'a b' }] });
  });

  it.each([
    ['not a list', { name: 'x' }, /expected a list/],
    ['a name with a slash', [{ name: '../x', source: 'url', url: 'https://a/b', sha256: DIGEST }], /name/],
    ['an unknown source', [{ name: 'x', source: 'ftp', url: 'https://a/b', sha256: DIGEST }], /source/],
    ['a URL with a space', [{ name: 'x', source: 'url', url: 'https://a/b c', sha256: DIGEST }], /url/],
    ['a short digest', [{ name: 'x', source: 'url', url: 'https://a/b', sha256: 'abc' }], /sha256/],
    ['an OCI digest that is not sha256', [{ name: 'x', source: 'oci', oci: { registry: 'ghcr.io', repository: 'a/b', digest: 'md5:1' } }], /digest/],
    ['a negative size', [{ name: 'x', source: 'url', url: 'https://a/b', sha256: DIGEST, size: -1 }], /size/],
  ])('refuses %s', (_what, sent, reason) => {
    const checked = checkJobArtifacts(sent);
    expect('problem' in checked && checked.problem).toMatch(reason);
  });

  it('takes download tokens from the claim answer, only plain printable ones', () => {
    const tokens = artifactTokens({ artifacts: [{ name: 'a', token: 'ghs_ok' }, { name: 'b', token: 'bad\r\ninjected' }, { name: 'c', token: 7 }] });
    expect([...tokens]).toEqual([['a', 'ghs_ok']]);
  });
});
