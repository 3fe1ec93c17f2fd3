import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchOciManifest } from '../../../lib/oci/fetch-oci-manifest.js';
import { parseOciReference } from '../../../lib/oci/parse-oci-reference.js';
import { openRegistrySession } from '../../../lib/oci/registry-session.js';
import { artifactManifest, startFakeRegistry, type FakeRegistry } from './fake-registry.js';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
let fake: FakeRegistry | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** A fake registry that answers every manifest request with `body` and these headers. */
async function serving(body: Buffer, headers: Record<string, string> = {}) {
  fake = await startFakeRegistry((_req, res) => void res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', ...headers }).end(body));
  return fake;
}

function fetchFrom(host: string, reference: string) {
  const ref = parseOciReference(`${host}/${reference}`);
  return fetchOciManifest(openRegistrySession({ registry: host, repository: ref.repository, timeoutMs: 5000, insecureRegistries: [host] }), ref);
}

describe('fetchOciManifest against a registry that lies', () => {
  it.each([
    ['with no Docker-Content-Digest header', false],
    ['even when the registry claims the asked digest in Docker-Content-Digest', true],
  ])('refuses a manifest fetched by digest whose bytes hash to another digest, %s', async (_name, claim) => {
    const genuine = artifactManifest();
    const tampered = artifactManifest({ digest: `sha256:${'b'.repeat(64)}` });
    const { host } = await serving(tampered, claim ? { 'docker-content-digest': sha256(genuine) } : {});
    await expect(fetchFrom(host, `acme/site@${sha256(genuine)}`)).rejects.toThrow(
      expect.objectContaining({
        code: 'BE_ARTIFACT',
        message: `the manifest of ${host}/acme/site@${sha256(genuine)} as the registry sent it hashes to ${sha256(tampered)}, not to the ${sha256(genuine)} asked for: refusing it (the registry, or something between it and us, answered with other bytes)`,
      }),
    );
  });

  it('accepts the same manifest when its bytes do hash to the digest asked for, and asks for every manifest kind it can read', async () => {
    const genuine = artifactManifest({ title: 'site.tar.gz', size: 1234 });
    const { host } = await serving(genuine);
    const got = await fetchFrom(host, `acme/site@${sha256(genuine)}`);
    expect(got).toEqual({
      digest: sha256(genuine),
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.acme.site.v1',
      layers: [{ digest: `sha256:${'a'.repeat(64)}`, size: 1234, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', title: 'site.tar.gz' }],
    });
    expect(fake!.seen[0]!.accept).toContain('application/vnd.oci.image.manifest.v1+json');
    expect(fake!.seen[0]!.accept).toContain('application/vnd.docker.distribution.manifest.v2+json');
  });

  it('refuses a tag whose Docker-Content-Digest disagrees with the bytes sent', async () => {
    const { host } = await serving(artifactManifest(), { 'docker-content-digest': `sha256:${'c'.repeat(64)}` });
    await expect(fetchFrom(host, 'acme/site:1.0')).rejects.toThrow(/says .* is sha256:c{64}, but the manifest it sent hashes to sha256:[a-f0-9]{64}: refusing it/);
  });

  it('refuses an image index and lists its platforms with the digests to pin', async () => {
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 10, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'2'.repeat(64)}`, size: 10, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        ],
      }),
    );
    const { host } = await serving(index);
    await expect(fetchFrom(host, 'acme/site:1.0')).rejects.toThrow(
      `the manifest of ${host}/acme/site:1.0 is an image index (one manifest per platform): BitEnvoy deploys one manifest; pin the platform's own digest instead. It lists linux/amd64: @sha256:${'1'.repeat(64)}; linux/arm64/v8: @sha256:${'2'.repeat(64)}`,
    );
  });

  it.each([
    ['a Docker schema 1 manifest', { schemaVersion: 1, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' }, /has the media type `application\/vnd.docker.distribution.manifest.v1\+prettyjws`/],
    ['a layer digested with sha512', { layers: [{ mediaType: 'x', digest: `sha512:${'a'.repeat(128)}`, size: 1 }] }, /`layers\[0\].digest` that is not `sha256:`/],
    ['a negative layer size', { layers: [{ mediaType: 'x', digest: `sha256:${'a'.repeat(64)}`, size: -1 }] }, /`layers\[0\].size` that is not a byte count/],
    ['a title that is not text', { layers: [{ mediaType: 'x', digest: `sha256:${'a'.repeat(64)}`, size: 1, annotations: { 'org.opencontainers.image.title': 7 } }] }, /`layers\[0\]` title that is not a file name/],
    ['no layers list', { layers: undefined }, /has no `layers` list/],
  ])('refuses %s', async (_name, change, message) => {
    const manifest = Buffer.from(JSON.stringify({ ...(JSON.parse(artifactManifest().toString()) as object), ...change }));
    const { host } = await serving(manifest);
    await expect(fetchFrom(host, 'acme/site:1.0')).rejects.toThrow(message);
  });

  it('stops reading a manifest past 4 MiB', async () => {
    const { host } = await serving(Buffer.alloc(4 * 1024 * 1024 + 10, 0x20));
    await expect(fetchFrom(host, 'acme/site:1.0')).rejects.toThrow(`the registry ${host} answered with more than 4194304 bytes for /v2/acme/site/manifests/1.0`);
  });

  it('says a missing tag does not exist, with the registry’s own code', async () => {
    fake = await startFakeRegistry((_req, res) => void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'));
    await expect(fetchFrom(fake.host, 'acme/site:9.9')).rejects.toThrow(`${fake.host}/acme/site:9.9 does not exist (the registry says MANIFEST_UNKNOWN): push it first, or check the tag`);
  });
});
