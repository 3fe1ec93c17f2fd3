/**
 * Checks a manifest as fetched from a registry and reads its summary. The bytes must hash to the digest asked for:
 * the digest is the only thing that binds a deployment to its content, and a registry's `Docker-Content-Digest` header
 * is only its own claim. Then the bytes must be a single manifest of a kind we deploy, with layers we can fetch and
 * verify by sha256.
 *
 * @example
 * const summary = checkOciManifest(bytes, { digest: 'sha256:…', where: 'ghcr.io/acme/site@sha256:…' });
 * summary.layers[0].digest; // 'sha256:…'
 */
import { createHash } from 'node:crypto';
import { BitEnvoyError } from '../errors.js';
import { MAX_MANIFEST_BYTES, OCI_MEDIA_TYPES, TITLE_ANNOTATION, type OciLayer, type OciManifestSummary } from './oci-manifest.js';
import { SHA256_DIGEST } from './parse-oci-reference.js';

const MAX_LAYERS = 1000;
const MAX_TEXT = 255;

/**
 * `sha256:<hex>` of the bytes.
 *
 * @example
 * digestOf(Buffer.from('{}')); // 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'
 */
export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function checkOciManifest(bytes: Buffer, expected: { digest: string | undefined; where: string }): OciManifestSummary & { digest: string } {
  const { where } = expected;
  const fail = (why: string) => new BitEnvoyError('BE_ARTIFACT', `the manifest of ${where} ${why}`);
  if (bytes.length > MAX_MANIFEST_BYTES) throw fail(`is larger than ${MAX_MANIFEST_BYTES >> 20} MiB; BitEnvoy does not read it`);
  const digest = digestOf(bytes);
  if (expected.digest !== undefined && digest !== expected.digest) {
    throw fail(
      `as the registry sent it hashes to ${digest}, not to the ${expected.digest} asked for: refusing it (the registry, or something between it and us, answered with other bytes)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw fail('is not JSON');
  }
  if (!isObject(json)) throw fail('is not a JSON object');
  const mediaType = json.mediaType;
  if (mediaType === OCI_MEDIA_TYPES.ociIndex || mediaType === OCI_MEDIA_TYPES.dockerManifestList || (mediaType === undefined && Array.isArray(json.manifests))) {
    throw fail(`is an image index (one manifest per platform): BitEnvoy deploys one manifest; pin the platform's own digest instead. ${describePlatforms(json.manifests)}`);
  }
  // OCI manifests may leave `mediaType` out (it became a SHOULD only in image-spec 1.0.2); the shape then decides.
  if (mediaType !== undefined && mediaType !== OCI_MEDIA_TYPES.ociManifest && mediaType !== OCI_MEDIA_TYPES.dockerManifest) {
    throw fail(`has the media type \`${String(mediaType).slice(0, MAX_TEXT)}\`; expected an OCI image manifest or a Docker v2 schema 2 manifest`);
  }
  if (json.schemaVersion !== 2) throw fail('does not have `schemaVersion: 2`');
  if (!isObject(json.config)) throw fail('has no `config` descriptor');
  const config = readDescriptor(json.config, 'config', fail);
  if (!Array.isArray(json.layers) || json.layers.length > MAX_LAYERS) throw fail(`has no \`layers\` list of at most ${MAX_LAYERS} entries`);
  const layers = json.layers.map((layer: unknown, i: number) => readDescriptor(layer, `layers[${i}]`, fail));
  const artifactType = json.artifactType === undefined ? config.mediaType : json.artifactType;
  if (typeof artifactType !== 'string' || artifactType.length > MAX_TEXT) throw fail(`has an \`artifactType\` that is not a text of at most ${MAX_TEXT} characters`);
  return { digest, mediaType: mediaType ?? OCI_MEDIA_TYPES.ociManifest, artifactType, layers };
}

function readDescriptor(value: unknown, where: string, fail: (why: string) => BitEnvoyError): OciLayer {
  if (!isObject(value)) throw fail(`has a \`${where}\` that is not a descriptor object`);
  const { mediaType, digest, size, annotations } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0 || mediaType.length > MAX_TEXT) throw fail(`has a \`${where}.mediaType\` that is not a media type`);
  if (typeof digest !== 'string' || !SHA256_DIGEST.test(digest)) {
    throw fail(`has a \`${where}.digest\` that is not \`sha256:\` and 64 hex digits (the only digest BitEnvoy verifies downloads with)`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw fail(`has a \`${where}.size\` that is not a byte count`);
  let title: string | undefined;
  if (annotations !== undefined) {
    if (!isObject(annotations)) throw fail(`has \`${where}.annotations\` that are not an object`);
    const named = annotations[TITLE_ANNOTATION];
    if (named !== undefined && (typeof named !== 'string' || named.length > MAX_TEXT)) throw fail(`has a \`${where}\` title that is not a file name`);
    title = named;
  }
  return { digest, size, mediaType, title };
}

/** The index's platforms with their digests, so the error tells the user what to pin. */
function describePlatforms(manifests: unknown): string {
  if (!Array.isArray(manifests)) return '';
  const lines = manifests.slice(0, 8).flatMap((entry: unknown) => {
    if (!isObject(entry) || typeof entry.digest !== 'string') return [];
    const p = isObject(entry.platform) ? entry.platform : {};
    const platform = [p.os, p.architecture, p.variant].filter((part) => typeof part === 'string').join('/') || 'unknown platform';
    return [`${platform.slice(0, 60)}: @${entry.digest.slice(0, 80)}`];
  });
  return lines.length === 0 ? '' : `It lists ${lines.join('; ')}${manifests.length > 8 ? '; …' : ''}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
