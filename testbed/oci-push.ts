/**
 * Pushes to the testbed's OCI registry with the distribution API alone (no docker or oras binary): blobs by a POST
 * that opens an upload and a PUT that completes it with the digest, manifests by PUT with their media type, the way
 * `oras push` publishes a build artifact — an OCI image manifest with an `artifactType`, the empty config and one
 * layer per file, titled with the file's name.
 *
 * @example
 * const { digest } = await pushOciArtifact(registry, { repository: 'acme/site', tag: '1.2.0', files: [{ title: 'site.tar.gz', bytes }] });
 * await tagOciManifest(registry, 'acme/site', '1.2.0', otherManifestBytes);
 */
import { createHash } from 'node:crypto';
import type { OciRegistry } from './oci-registry.js';

export interface PushedArtifact {
  /** `sha256:…` of the manifest. */
  digest: string;
  /** The manifest's exact bytes (re-tag with these). */
  manifest: Buffer;
  layers: Array<{ digest: string; size: number; title: string }>;
}

export interface ArtifactToPush {
  repository: string;
  /** Tag to put the manifest under; without one it is pushed by digest only. */
  tag?: string;
  artifactType?: string;
  files: Array<{ title: string; bytes: Buffer; mediaType?: string }>;
}

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY_CONFIG = { mediaType: 'application/vnd.oci.empty.v1+json', bytes: Buffer.from('{}') };

export async function pushOciArtifact(registry: OciRegistry, artifact: ArtifactToPush): Promise<PushedArtifact> {
  const config = await pushOciBlob(registry, artifact.repository, EMPTY_CONFIG.bytes);
  const layers = [];
  for (const file of artifact.files) {
    const digest = await pushOciBlob(registry, artifact.repository, file.bytes);
    layers.push({ digest, size: file.bytes.length, title: file.title, mediaType: file.mediaType ?? 'application/vnd.oci.image.layer.v1.tar+gzip' });
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      artifactType: artifact.artifactType ?? 'application/vnd.bitenvoy.release.v1',
      config: { mediaType: EMPTY_CONFIG.mediaType, digest: config, size: EMPTY_CONFIG.bytes.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, annotations: { 'org.opencontainers.image.title': l.title } })),
      annotations: { 'org.opencontainers.image.created': new Date().toISOString() },
    }),
  );
  const digest = await putOciManifest(registry, artifact.repository, artifact.tag ?? sha256(manifest), manifest);
  return { digest, manifest, layers: layers.map(({ digest: d, size, title }) => ({ digest: d, size, title })) };
}

/** Uploads a blob (POST, then PUT with `?digest=`) and returns its digest. */
export async function pushOciBlob(registry: OciRegistry, repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const headers = authorize(registry, repository);
  const opened = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers });
  await expectStatus(opened, 202, `opening a blob upload in ${repository}`);
  const location = new URL(opened.headers.get('location') ?? '', registry.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: bytes });
  await expectStatus(put, 201, `completing the upload of ${digest}`);
  return digest;
}

/** PUTs manifest bytes under a tag or digest; returns the digest the registry computed for them. */
export async function putOciManifest(registry: OciRegistry, repository: string, reference: string, manifest: Buffer, mediaType = MANIFEST_TYPE): Promise<string> {
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...authorize(registry, repository), 'content-type': mediaType },
    body: manifest,
  });
  await expectStatus(res, 201, `putting the manifest ${repository}:${reference}`);
  return res.headers.get('docker-content-digest') ?? sha256(manifest);
}

/** Points `tag` at a manifest already pushed (its exact bytes). */
export function tagOciManifest(registry: OciRegistry, repository: string, tag: string, manifest: Buffer): Promise<string> {
  return putOciManifest(registry, repository, tag, manifest);
}

/** Deletes a manifest by digest (the registry must be started with `deleteEnabled`). */
export async function deleteOciManifest(registry: OciRegistry, repository: string, digest: string): Promise<void> {
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${digest}`, { method: 'DELETE', headers: authorize(registry, repository) });
  await expectStatus(res, 202, `deleting the manifest ${repository}@${digest}`);
}

function authorize(registry: OciRegistry, repository: string): Record<string, string> {
  return registry.tokens ? { authorization: `Bearer ${registry.tokens.mint(repository, ['pull', 'push'])}` } : {};
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status === status) return void (await res.body?.cancel());
  throw new Error(`the test registry answered HTTP ${res.status} to ${what}: ${(await res.text()).slice(0, 500)}`);
}
