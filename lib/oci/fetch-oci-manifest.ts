/**
 * Fetches one manifest by tag or digest and checks it ({@link checkOciManifest}). By digest, the bytes must hash to
 * it; by tag, the digest is computed from the bytes received — the registry's `Docker-Content-Digest` header is only
 * compared, and a registry whose header disagrees with its own bytes is refused rather than believed.
 *
 * @example
 * const session = openRegistrySession({ registry: 'ghcr.io', repository: 'acme/site', timeoutMs: 30_000 });
 * const { digest, layers } = await fetchOciManifest(session, { registry: 'ghcr.io', repository: 'acme/site', tag: '1.2.0', digest: undefined });
 */
import { BitEnvoyError } from '../errors.js';
import { checkOciManifest } from './check-oci-manifest.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, type OciManifestSummary } from './oci-manifest.js';
import { formatOciReference, type OciReference } from './parse-oci-reference.js';
import type { RegistrySession } from './registry-session.js';

export async function fetchOciManifest(session: RegistrySession, ref: OciReference): Promise<OciManifestSummary & { digest: string }> {
  const where = formatOciReference(ref);
  const pinned = ref.digest ?? ref.tag;
  if (pinned === undefined) throw new BitEnvoyError('BE_ARTIFACT', `${where} has neither a tag nor a digest: add one`);
  const res = await session.get(`/v2/${ref.repository}/manifests/${pinned}`, { accept: MANIFEST_ACCEPT, maxBytes: MAX_MANIFEST_BYTES });
  if (res.status === 404) {
    const said = registryErrorCode(res.body);
    throw new BitEnvoyError('BE_ARTIFACT', `${where} does not exist${said ? ` (the registry says ${said})` : ''}: push it first, or check the ${ref.digest ? 'digest' : 'tag'}`, {
      details: { reference: where, registryCode: said },
    });
  }
  if (res.status === 403) {
    throw new BitEnvoyError('BE_ARTIFACT', `the registry refused to show ${where} (HTTP 403): the repository may not exist, or the credentials may not read it`);
  }
  if (res.status !== 200) throw new BitEnvoyError('BE_ARTIFACT', `the registry answered HTTP ${res.status} for ${where}; expected its manifest (HTTP 200)`);
  const summary = checkOciManifest(res.body, { digest: ref.digest, where });
  const claimed = res.headers['docker-content-digest'];
  if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== summary.digest) {
    throw new BitEnvoyError(
      'BE_ARTIFACT',
      `the registry says ${where} is ${claimed.slice(0, 80)}, but the manifest it sent hashes to ${summary.digest}: refusing it (the registry or a proxy between us altered the bytes)`,
    );
  }
  return summary;
}

/** The first `errors[].code` of a distribution error body (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`), when it has one. */
function registryErrorCode(body: Buffer): string | undefined {
  try {
    const code = (JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown }> }).errors?.[0]?.code;
    return typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}
