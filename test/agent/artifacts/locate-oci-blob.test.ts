import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateOciBlob, type LocatedOciBlob } from '../../../agent/artifacts/locate-oci-blob.js';
import { resolveOciTag } from '../../../app/artifacts/resolve-oci-tag.js';
import { deleteOciManifest, pushOciArtifact } from '../../../testbed/oci-push.js';
import { startOciRegistry, type OciRegistry } from '../../../testbed/oci-registry.js';

/** Downloads the blob with plain node:http, as the downloader would, and returns its bytes. */
function download(blob: LocatedOciBlob): Promise<{ status: number; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    request(blob.url, { headers: blob.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('locateOciBlob against a real registry (docker-registry)', () => {
  let registry: OciRegistry;
  let digest: string;
  const site = Buffer.from('the site, gzipped'.repeat(1000));
  const checksums = Buffer.from('sha256 sums');
  const locate = (layer?: string | number) =>
    locateOciBlob({ registry: registry.host, repository: 'acme/site', digest, layer, timeoutMs: 10_000, insecureRegistries: [registry.host] });
  beforeAll(async () => {
    registry = await startOciRegistry();
    const pushed = await pushOciArtifact(registry, {
      repository: 'acme/site',
      tag: '2.0.0',
      files: [
        { title: 'site.tar.gz', bytes: site },
        { title: 'SHA256SUMS', bytes: checksums, mediaType: 'text/plain' },
      ],
    });
    digest = (await resolveOciTag(`${registry.host}/acme/site:2.0.0`, { timeoutMs: 10_000, insecureRegistries: [registry.host] })).digest;
    expect(digest).toBe(pushed.digest);
  });
  afterAll(() => registry?.close());

  it('locates a layer by title; its bytes, downloaded with plain http, hash to the layer digest', async () => {
    const blob = await locate('site.tar.gz');
    expect(blob).toEqual({
      url: `${registry.url}/v2/acme/site/blobs/sha256:${sha256(site)}`,
      sha256: sha256(site),
      size: site.length,
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      title: 'site.tar.gz',
      headers: {},
    });
    const got = await download(blob);
    expect(got.status).toBe(200);
    expect(sha256(got.bytes)).toBe(blob.sha256);
    expect(got.bytes.length).toBe(blob.size);
  });

  it('locates a layer by index', async () => {
    expect((await locate(1)).sha256).toBe(sha256(checksums));
  });

  it('asks which layer when there are several, and names them', async () => {
    await expect(locate()).rejects.toThrow(`${registry.host}/acme/site@${digest} has 2 layers (site.tar.gz, SHA256SUMS): say which one to deploy, by title or index`);
    await expect(locate('app.zip')).rejects.toThrow(`${registry.host}/acme/site@${digest} has no layer titled \`app.zip\`; it has site.tar.gz, SHA256SUMS`);
    await expect(locate(2)).rejects.toThrow(`${registry.host}/acme/site@${digest} has 2 layer(s) (site.tar.gz, SHA256SUMS); there is no layer #2`);
  });

  it('takes the only layer without being told', async () => {
    const one = await pushOciArtifact(registry, { repository: 'acme/tool', files: [{ title: 'tool', bytes: Buffer.from('binary') }] });
    const blob = await locateOciBlob({ registry: registry.host, repository: 'acme/tool', digest: one.digest, timeoutMs: 10_000, insecureRegistries: [registry.host] });
    expect(sha256((await download(blob)).bytes)).toBe(sha256(Buffer.from('binary')));
  });

  it('refuses a repository or digest the hub sent that is not a valid reference part', async () => {
    await expect(locateOciBlob({ registry: registry.host, repository: '../etc', digest, timeoutMs: 1000, insecureRegistries: [registry.host] })).rejects.toThrow(/has the part `..`/);
    await expect(locateOciBlob({ registry: registry.host, repository: 'acme/site', digest: 'latest', timeoutMs: 1000, insecureRegistries: [registry.host] })).rejects.toThrow(
      /the digest `latest` is not `sha256:`/,
    );
  });
});

describe('locateOciBlob against a real registry with token auth', () => {
  let registry: OciRegistry;
  beforeAll(async () => {
    registry = await startOciRegistry({ tokenAuth: { anonymousPull: false, users: { ci: 'read-token' } } });
  });
  afterAll(() => registry?.close());

  it('hands the downloader the Authorization the registry asked for, and the download works only with it', async () => {
    const bytes = Buffer.from('private binary');
    const pushed = await pushOciArtifact(registry, { repository: 'acme/secret', tag: '1.0.0', files: [{ title: 'bin', bytes }] });
    const blob = await locateOciBlob({
      registry: registry.host,
      repository: 'acme/secret',
      digest: pushed.digest,
      credentials: { username: 'ci', password: 'read-token' },
      timeoutMs: 10_000,
      insecureRegistries: [registry.host, registry.tokens!.host],
    });
    expect(blob.headers.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const got = await download(blob);
    expect(got.status).toBe(200);
    expect(sha256(got.bytes)).toBe(blob.sha256);
    expect((await download({ ...blob, headers: {} })).status).toBe(401);
  });
});

describe('locateOciBlob when the pinned manifest is gone from the registry', () => {
  let registry: OciRegistry;
  beforeAll(async () => {
    registry = await startOciRegistry({ deleteEnabled: true });
  });
  afterAll(() => registry?.close());

  it('says the digest the hub pinned does not exist any more', async () => {
    const pushed = await pushOciArtifact(registry, { repository: 'acme/site', tag: '3.0.0', files: [{ title: 'site.tar.gz', bytes: Buffer.from('soon gone') }] });
    const request = { registry: registry.host, repository: 'acme/site', digest: pushed.digest, timeoutMs: 10_000, insecureRegistries: [registry.host] };
    expect((await locateOciBlob(request)).title).toBe('site.tar.gz');
    await deleteOciManifest(registry, 'acme/site', pushed.digest);
    await expect(locateOciBlob(request)).rejects.toThrow(
      `${registry.host}/acme/site@${pushed.digest} does not exist (the registry says MANIFEST_UNKNOWN): push it first, or check the digest`,
    );
  });
});
