import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactSourceRefusal, type ArtifactSource } from '../../../agent/artifacts/artifact-sources.js';
import { readAgentYml } from '../../../agent/read-agent-yml.js';

const REPO = 'acme/shop';
const ALLOW = {
  artifactSources: [
    'github-actions',
    'github-releases@https://ghe.acme.com',
    'ghcr.io/acme/*',
    'registry.example.com:5000/team/app',
    'https://cdn.acme.com/builds',
    'http://127.0.0.1:8080/',
  ],
};

const url = (u: string): ArtifactSource => ({ kind: 'url', url: u });
const oci = (registry: string, repository: string): ArtifactSource => ({ kind: 'oci', registry, repository });
const actions = (u: string): ArtifactSource => ({ kind: 'github-actions', url: u });
const release = (u: string): ArtifactSource => ({ kind: 'github-release', url: u });

describe('artifactSourceRefusal', () => {
  it.each<[string, ArtifactSource]>([
    ['an Actions artifact of the job’s repository on github.com', actions('https://api.github.com/repos/acme/shop/actions/artifacts/123/zip')],
    ['the repository name in another case', actions('https://api.github.com/repos/Acme/Shop/actions/artifacts/123/zip')],
    ['a release asset on the named Enterprise Server (API)', release('https://ghe.acme.com/api/v3/repos/acme/shop/releases/assets/9')],
    ['a release download on the named Enterprise Server (web)', release('https://GHE.acme.com/acme/shop/releases/download/v1.2/shop.tgz')],
    ['an OCI repository under owner/*', oci('ghcr.io', 'acme/shop')],
    ['an OCI registry host in another case', oci('GHCR.io', 'acme/shop')],
    ['an exact OCI repository with a port', oci('registry.example.com:5000', 'team/app')],
    ['a URL under a prefix written without its trailing /', url('https://cdn.acme.com/builds/shop/1.2/shop.tgz')],
    ['a URL with the host in another case and the default port', url('https://CDN.acme.com:443/builds/shop.tgz')],
    ['an http URL where a pattern says http', url('http://127.0.0.1:8080/shop.tgz')],
  ])('accepts %s', (_name, source) => {
    expect(artifactSourceRefusal(ALLOW, REPO, source)).toBeUndefined();
  });

  it.each<[string, ArtifactSource, string]>([
    ['an OCI owner that only starts like the allowed one', oci('ghcr.io', 'acme-evil/x'), 'add `ghcr.io/acme-evil/x`'],
    ['an OCI repository one segment deeper than `*`', oci('ghcr.io', 'acme/shop/extra'), 'add `ghcr.io/acme/shop/extra`'],
    ['an OCI registry that only starts like the allowed one', oci('ghcr.io.evil', 'acme/shop'), 'add `ghcr.io.evil/acme/shop`'],
    ['an OCI registry on another port', oci('registry.example.com:5001', 'team/app'), 'add `registry.example.com:5001/team/app`'],
    ['an invalid OCI repository name', oci('ghcr.io', 'acme/../x'), 'not a valid OCI repository name'],
    ['a host that only starts like the allowed one', url('https://cdn.acme.com.evil/builds/x.tgz'), 'add `https://cdn.acme.com.evil/builds/`'],
    ['a path that only starts like the prefix', url('https://cdn.acme.com/builds-evil/x.tgz'), 'add `https://cdn.acme.com/builds-evil/`'],
    ['a `..` hidden behind an escape', url('https://cdn.acme.com/builds/..%2f..%2fsecret'), '`%` escapes'],
    ['a `..` segment', url('https://cdn.acme.com/builds/../secret/x.tgz'), '`..` path segment'],
    ['a user name and password', url('https://user:pw@cdn.acme.com/builds/x.tgz'), 'user name or password'],
    ['a host hidden behind userinfo', url('https://cdn.acme.com@evil.example/builds/x.tgz'), 'user name or password'],
    ['a query', url('https://cdn.acme.com/builds/x.tgz?redirect=evil'), 'query string'],
    ['a fragment', url('https://cdn.acme.com/builds/x.tgz#x'), 'fragment'],
    ['a backslash', url('https://cdn.acme.com/builds\\..\\x'), 'backslashes'],
    ['http where the pattern says https', url('http://cdn.acme.com/builds/x.tgz'), 'add `http://cdn.acme.com/builds/`'],
    ['https where the pattern says http', url('https://127.0.0.1:8080/shop.tgz'), 'add `https://127.0.0.1:8080/`'],
    ['another port of an allowed host', url('http://127.0.0.1:8081/shop.tgz'), 'add `http://127.0.0.1:8081/`'],
    ['a scheme other than http(s)', url('file:///etc/passwd'), 'is not https or http'],
    ['an Actions artifact of another repository', actions('https://api.github.com/repos/acme/other/actions/artifacts/1/zip'), 'belongs to repository acme/other'],
    ['an Actions “artifact” on another host', actions('https://evil.example/repos/acme/shop/actions/artifacts/1/zip'), 'is not an Actions artifact download'],
    ['an Actions artifact where only release assets are allowed', actions('https://ghe.acme.com/api/v3/repos/acme/shop/actions/artifacts/1/zip'), 'add `github-actions@https://ghe.acme.com`'],
    ['a release asset where only Actions artifacts are allowed (github.com)', release('https://api.github.com/repos/acme/shop/releases/assets/1'), 'add `github-releases`'],
    ['a release asset of an Enterprise Server not named', release('https://evil.example/acme/shop/releases/download/v1/x.tgz'), 'add `github-releases@https://evil.example`'],
    ['a release URL that is not an asset', release('https://api.github.com/repos/acme/shop/releases/latest'), 'is not a release asset'],
  ])('refuses %s', (_name, source, reason) => {
    const refusal = artifactSourceRefusal(ALLOW, REPO, source);
    expect(refusal).toContain("this agent's allowlist does not accept artifact source");
    expect(refusal).toContain(reason);
  });

  it('accepts nothing without allow.artifactSources, and says so with the line to add', () => {
    for (const allow of [undefined, {}, { artifactSources: [] }]) {
      expect(artifactSourceRefusal(allow, REPO, oci('ghcr.io', 'acme/shop'))).toBe(
        "this agent's allowlist does not accept artifact source OCI ghcr.io/acme/shop for acme/shop (agent.yml has no allow.artifactSources, so this agent accepts no artifact at all); " +
          "the server's owner can add `ghcr.io/acme/shop` to allow.artifactSources in agent.yml and restart the agent",
      );
    }
  });

  it('names a URL without its credentials or query', () => {
    const refusal = artifactSourceRefusal(ALLOW, REPO, url('https://u:s3cret@cdn.acme.com/builds/x.tgz?sig=s3cret'))!;
    expect(refusal).not.toContain('s3cret');
    expect(refusal).toContain('never accepted');
  });
});

describe('allow.artifactSources in agent.yml', () => {
  async function read(patterns: string[]): Promise<unknown> {
    const dir = await mkdtemp(join(tmpdir(), 'be-agent-yml-'));
    try {
      await writeFile(join(dir, 'agent.yml'), `allow:\n  artifactSources:\n${patterns.map((p) => `    - ${JSON.stringify(p)}\n`).join('')}`);
      return await readAgentYml(dir).then((value) => value.allow?.artifactSources, (err: Error) => err.message);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('takes every kind of pattern', async () => {
    expect(await read(ALLOW.artifactSources)).toEqual(ALLOW.artifactSources);
  });

  it.each([
    ['a URL prefix with userinfo', 'https://u@cdn.acme.com/'],
    ['a URL prefix with a query', 'https://cdn.acme.com/?x=1'],
    ['a URL prefix with an escape', 'https://cdn.acme.com/%2e%2e/'],
    ['another scheme', 'ftp://cdn.acme.com/'],
    ['an unknown GitHub kind', 'github-packages'],
    ['an OCI pattern with a bare registry', 'ghcr.io'],
    ['an OCI pattern with a partial wildcard', 'ghcr.io/acme/app-*'],
  ])('refuses %s', async (_name, pattern) => {
    expect(await read([pattern])).toEqual(expect.stringContaining('artifactSources'));
  });
});
