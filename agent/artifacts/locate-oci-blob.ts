/**
 * Job time, on the agent: from the manifest digest the hub pinned, finds the one layer to download and says where it
 * is and what it must hash to. The manifest is fetched by digest and its bytes checked against it, so the layer's
 * sha256 comes from content the agent verified itself — not from the hub, nor from the registry's word.
 *
 * The blob URL may answer with a redirect to other storage (GHCR sends one to its CDN): the downloader follows it and
 * must not carry `headers.authorization` to another host.
 *
 * @example
 * const blob = await locateOciBlob({ registry: 'ghcr.io', repository: 'acme/site', digest: 'sha256:…', layer: 'site.tar.gz', timeoutMs: 30_000 });
 * // download blob.url with blob.headers, check sha256 === blob.sha256 and length === blob.size
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { fetchOciManifest } from '../../lib/oci/fetch-oci-manifest.js';
import type { OciLayer } from '../../lib/oci/oci-manifest.js';
import { formatOciReference, parseOciReference } from '../../lib/oci/parse-oci-reference.js';
import { openRegistrySession } from '../../lib/oci/registry-session.js';

export interface LocateOciBlobRequest {
  registry: string;
  repository: string;
  /** `sha256:<hex>` of the manifest, as the hub resolved it. */
  digest: string;
  /** Which layer: its title (file name) or its index. Needed only when the manifest has several. */
  layer?: string | number;
  credentials?: { username: string; password: string };
  timeoutMs: number;
  /** Registries (`host[:port]`) spoken to over plain http. Empty by default: https only. */
  insecureRegistries?: readonly string[];
}

export interface LocatedOciBlob {
  /** `<registry>/v2/<repository>/blobs/<digest>`. */
  url: string;
  /** Lower-case hex sha256 the downloaded bytes must have. */
  sha256: string;
  size: number;
  mediaType: string;
  title: string | undefined;
  /** `authorization` when the registry asked for a login; empty otherwise. */
  headers: Record<string, string>;
}

export async function locateOciBlob(request: LocateOciBlobRequest): Promise<LocatedOciBlob> {
  // Parsing the reference as text re-checks every part the hub sent (host, repository path, digest shape).
  const ref = parseOciReference(formatOciReference({ registry: request.registry, repository: request.repository, digest: request.digest }));
  const session = openRegistrySession({ ...request, registry: ref.registry, repository: ref.repository });
  const manifest = await fetchOciManifest(session, ref);
  const layer = pickLayer(manifest.layers, request.layer, formatOciReference(ref));
  const authorization = session.authorization();
  return {
    url: `${session.baseUrl}/v2/${ref.repository}/blobs/${layer.digest}`,
    sha256: layer.digest.slice('sha256:'.length),
    size: layer.size,
    mediaType: layer.mediaType,
    title: layer.title,
    headers: authorization ? { authorization } : {},
  };
}

function pickLayer(layers: OciLayer[], choice: string | number | undefined, where: string): OciLayer {
  const names = layers.map((layer, i) => layer.title ?? `#${i}`).join(', ');
  if (typeof choice === 'number') {
    const layer = Number.isInteger(choice) ? layers[choice] : undefined;
    if (!layer) throw new BitEnvoyError('BE_ARTIFACT', `${where} has ${layers.length} layer(s) (${names}); there is no layer #${choice}`);
    return layer;
  }
  if (typeof choice === 'string') {
    const named = layers.filter((layer) => layer.title === choice);
    if (named.length === 1) return named[0]!;
    throw new BitEnvoyError(
      'BE_ARTIFACT',
      named.length === 0 ? `${where} has no layer titled \`${choice.slice(0, 120)}\`; it has ${names || 'no layers'}` : `${where} has ${named.length} layers titled \`${choice.slice(0, 120)}\`: choose one by index`,
    );
  }
  if (layers.length === 1) return layers[0]!;
  throw new BitEnvoyError(
    'BE_ARTIFACT',
    layers.length === 0 ? `${where} has no layers: there is nothing to download` : `${where} has ${layers.length} layers (${names}): say which one to deploy, by title or index`,
  );
}
