import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveOciTag } from '../../../app/artifacts/resolve-oci-tag.js';
import { pushOciArtifact, tagOciManifest } from '../../../testbed/oci-push.js';
import { startOciRegistry, type OciRegistry } from '../../../testbed/oci-registry.js';

describe('resolveOciTag against a real registry (docker-registry)', () => {
  let registry: OciRegistry;
  const resolve = (reference: string) => resolveOciTag(`${registry.host}/${reference}`, { timeoutMs: 10_000, insecureRegistries: [registry.host] });
  beforeAll(async () => {
    registry = await startOciRegistry();
  });
  afterAll(() => registry?.close());

  it('resolves a pushed tag to the digest that was pushed, with the layers it holds', async () => {
    const pushed = await pushOciArtifact(registry, {
      repository: 'acme/site',
      tag: '1.2.0',
      artifactType: 'application/vnd.acme.site.v1',
      files: [{ title: 'site.tar.gz', bytes: Buffer.from('static site') }],
    });
    const resolved = await resolve('acme/site:1.2.0');
    expect(resolved).toEqual({
      registry: registry.host,
      repository: 'acme/site',
      tag: '1.2.0',
      digest: pushed.digest,
      manifest: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.acme.site.v1',
        layers: [{ digest: pushed.layers[0]!.digest, size: 11, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', title: 'site.tar.gz' }],
      },
    });
    // A reference that already names the digest is checked the same way and gives the same answer.
    expect((await resolve(`acme/site@${pushed.digest}`)).digest).toBe(pushed.digest);
  });

  it('follows a re-tag: the same tag on another manifest resolves to that manifest', async () => {
    const first = await pushOciArtifact(registry, { repository: 'acme/api', tag: 'stable', files: [{ title: 'api', bytes: Buffer.from('v1') }] });
    expect((await resolve('acme/api:stable')).digest).toBe(first.digest);
    const second = await pushOciArtifact(registry, { repository: 'acme/api', files: [{ title: 'api', bytes: Buffer.from('v2') }] });
    expect(second.digest).not.toBe(first.digest);
    await tagOciManifest(registry, 'acme/api', 'stable', second.manifest);
    expect((await resolve('acme/api:stable')).digest).toBe(second.digest);
  });

  it('says a missing tag or repository does not exist, and how to fix it', async () => {
    await pushOciArtifact(registry, { repository: 'acme/shop', tag: '1.0.0', files: [{ title: 'shop', bytes: Buffer.from('x') }] });
    await expect(resolve('acme/shop:9.9.9')).rejects.toThrow(
      expect.objectContaining({ code: 'BE_ARTIFACT', message: `${registry.host}/acme/shop:9.9.9 does not exist (the registry says MANIFEST_UNKNOWN): push it first, or check the tag` }),
    );
    // docker-registry 2.8 says MANIFEST_UNKNOWN for a repository it never had, too; others say NAME_UNKNOWN.
    await expect(resolve('acme/nothing-here:1.0.0')).rejects.toThrow(
      `${registry.host}/acme/nothing-here:1.0.0 does not exist (the registry says MANIFEST_UNKNOWN): push it first, or check the tag`,
    );
    await expect(resolve(`acme/shop@sha256:${'0'.repeat(64)}`)).rejects.toThrow(/does not exist \(the registry says MANIFEST_UNKNOWN\): push it first, or check the digest/);
  });
});

describe('resolveOciTag against a real registry with token auth (GHCR-style)', () => {
  let registry: OciRegistry;
  let privateRegistry: OciRegistry;
  beforeAll(async () => {
    [registry, privateRegistry] = await Promise.all([
      startOciRegistry({ tokenAuth: { users: { ci: 'read-token' } } }),
      startOciRegistry({ tokenAuth: { anonymousPull: false, users: { ci: 'read-token' } } }),
    ]);
  });
  afterAll(() => Promise.all([registry?.close(), privateRegistry?.close()]));
  const insecure = (r: OciRegistry) => [r.host, r.tokens!.host];

  it('logs in anonymously for a public package', async () => {
    const pushed = await pushOciArtifact(registry, { repository: 'acme/site', tag: '1.0.0', files: [{ title: 'site.tar.gz', bytes: Buffer.from('public') }] });
    const resolved = await resolveOciTag(`${registry.host}/acme/site:1.0.0`, { timeoutMs: 10_000, insecureRegistries: insecure(registry) });
    expect(resolved.digest).toBe(pushed.digest);
    expect(registry.tokens!.requests()).toEqual({ total: 1, withCredentials: 0 });
  });

  it('refuses a private package anonymously, resolves it with credentials, and says when they are wrong', async () => {
    const pushed = await pushOciArtifact(privateRegistry, { repository: 'acme/secret', tag: '1.0.0', files: [{ title: 'bin', bytes: Buffer.from('private') }] });
    const reference = `${privateRegistry.host}/acme/secret:1.0.0`;
    const options = { timeoutMs: 10_000, insecureRegistries: insecure(privateRegistry) };
    await expect(resolveOciTag(reference, options)).rejects.toThrow(`the registry ${privateRegistry.host} refused the login for acme/secret (HTTP 401 again after logging in)`);
    expect((await resolveOciTag(reference, { ...options, credentials: { username: 'ci', password: 'read-token' } })).digest).toBe(pushed.digest);
    await expect(resolveOciTag(reference, { ...options, credentials: { username: 'ci', password: 'wrong' } })).rejects.toThrow(
      `the token server of the registry ${privateRegistry.host} refused the configured credentials for acme/secret (HTTP 401): check the user name and token, and that they may read this package`,
    );
  });
});
