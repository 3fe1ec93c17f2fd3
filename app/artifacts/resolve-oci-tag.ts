/**
 * Plan time, on the hub: turns the OCI reference an instruction file names (`ghcr.io/acme/site:1.2.0`) into the
 * digest the deployment is pinned to, with a summary of what the manifest holds so the plan and the deployment page
 * can show it. Agents then fetch exactly that digest, whatever the tag points to by then. A reference that already
 * carries a digest is checked the same way (it must exist, and its bytes must hash to it).
 *
 * @example
 * const resolved = await resolveOciTag('ghcr.io/acme/site:1.2.0', { timeoutMs: 30_000 });
 * resolved.digest; // 'sha256:…'; resolved.manifest.layers[0].title → 'site.tar.gz'
 */
import { fetchOciManifest } from '../../lib/oci/fetch-oci-manifest.js';
import type { OciManifestSummary } from '../../lib/oci/oci-manifest.js';
import { parseOciReference } from '../../lib/oci/parse-oci-reference.js';
import { openRegistrySession } from '../../lib/oci/registry-session.js';

export interface ResolvedOciArtifact {
  registry: string;
  repository: string;
  /** The tag the reference named, if any (a label: the digest is what is deployed). */
  tag: string | undefined;
  /** `sha256:<hex>` of the manifest's bytes. */
  digest: string;
  manifest: OciManifestSummary;
}

export interface ResolveOciOptions {
  /** For a private package (GHCR: a user name and a token with `read:packages`); anonymous otherwise. */
  credentials?: { username: string; password: string };
  /** Per request to the registry or its token server. */
  timeoutMs: number;
  /** Registries (`host[:port]`) spoken to over plain http, e.g. a test registry on 127.0.0.1. Empty by default. */
  insecureRegistries?: readonly string[];
}

export async function resolveOciTag(reference: string, options: ResolveOciOptions): Promise<ResolvedOciArtifact> {
  const ref = parseOciReference(reference);
  const session = openRegistrySession({ registry: ref.registry, repository: ref.repository, ...options });
  const { digest, ...manifest } = await fetchOciManifest(session, ref);
  return { registry: ref.registry, repository: ref.repository, tag: ref.tag, digest, manifest };
}
