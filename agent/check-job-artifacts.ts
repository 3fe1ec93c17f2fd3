/**
 * The artifacts of a job as the hub sent them, checked field by field and rebuilt from known fields only (like the
 * rest of the spec, agent/check-job-spec.ts): a name, a source kind, an http(s) URL without spaces or control
 * characters, a SHA-256 in hex, a size, an OCI registry/repository/digest of sane shape. Whether they are what the
 * commit's own instruction file declares, and allowed here, is judged later (agent/artifacts/deliver-artifacts.ts).
 * The download token comes only with the claim (see {@link artifactTokens}).
 *
 * @example
 * const checked = checkJobArtifacts(job.artifacts);
 * if ('problem' in checked) … else spec.artifacts = checked.artifacts;
 */
import { ARTIFACT_SOURCE_KINDS, MAX_JOB_ARTIFACTS, type ArtifactSourceKind, type JobArtifact } from '../lib/protocol.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const URL_TEXT = /^https?:\/\/[^\s\p{Cc}]{1,2000}$/u;
const SHA256 = /^[0-9a-f]{64}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const REGISTRY = /^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$/;
const OCI_REPOSITORY = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*){0,9}$/;
const MAX_ATTESTATIONS = 16;

export function checkJobArtifacts(value: unknown): { artifacts: JobArtifact[] } | { problem: string } {
  if (value === undefined) return { artifacts: [] };
  if (!Array.isArray(value) || value.length > MAX_JOB_ARTIFACTS) return { problem: `\`artifacts\`: expected a list of at most ${MAX_JOB_ARTIFACTS}` };
  const artifacts: JobArtifact[] = [];
  for (const [index, item] of value.entries()) {
    const at = `\`artifacts[${index}]\``;
    if (!isObject(item)) return { problem: `${at}: expected an object` };
    if (typeof item.name !== 'string' || !NAME.test(item.name)) return { problem: `${at}.name: expected a name of letters, digits, \`.\`, \`_\` and \`-\`` };
    if (!ARTIFACT_SOURCE_KINDS.includes(item.source as ArtifactSourceKind)) return { problem: `${at}.source: expected one of ${ARTIFACT_SOURCE_KINDS.join(', ')}` };
    const source = item.source as ArtifactSourceKind;
    const artifact: JobArtifact = { name: item.name, source };
    if (source === 'oci') {
      const oci = isObject(item.oci) ? item.oci : {};
      if (typeof oci.registry !== 'string' || !REGISTRY.test(oci.registry)) return { problem: `${at}.oci.registry: expected a registry host like \`ghcr.io\`` };
      if (typeof oci.repository !== 'string' || !OCI_REPOSITORY.test(oci.repository)) return { problem: `${at}.oci.repository: expected a repository path like \`acme/site\`` };
      if (typeof oci.digest !== 'string' || !DIGEST.test(oci.digest)) return { problem: `${at}.oci.digest: expected \`sha256:\` and 64 hex digits` };
      if (oci.layer !== undefined && (typeof oci.layer !== 'string' || oci.layer.length > 200)) return { problem: `${at}.oci.layer: expected a layer title` };
      artifact.oci = { registry: oci.registry, repository: oci.repository, digest: oci.digest, ...(typeof oci.layer === 'string' ? { layer: oci.layer } : {}) };
    } else {
      if (typeof item.url !== 'string' || !URL_TEXT.test(item.url)) return { problem: `${at}.url: expected an http(s) URL` };
      if (typeof item.sha256 !== 'string' || !SHA256.test(item.sha256)) return { problem: `${at}.sha256: expected 64 lowercase hex digits` };
      artifact.url = item.url;
      artifact.sha256 = item.sha256;
    }
    if (item.size !== undefined) {
      if (!Number.isSafeInteger(item.size) || (item.size as number) < 0) return { problem: `${at}.size: expected a number of bytes` };
      artifact.size = item.size as number;
    }
    if (Array.isArray(item.attestations)) artifact.attestations = item.attestations.slice(0, MAX_ATTESTATIONS).filter(isObject);
    if (typeof item.described === 'string') artifact.described = item.described.slice(0, 200).replace(/\p{Cc}/gu, ' ');
    artifacts.push(artifact);
  }
  return { artifacts };
}

/**
 * The download tokens of the claim answer, by artifact name: only for this very job, only plain strings of sane size.
 *
 * @example
 * artifactTokens(claimed.job); // Map { 'site' => 'ghs_…' }
 */
export function artifactTokens(job: Record<string, unknown> | undefined): Map<string, string> {
  const tokens = new Map<string, string>();
  const list = Array.isArray(job?.artifacts) ? job.artifacts : [];
  for (const item of list.slice(0, MAX_JOB_ARTIFACTS)) {
    if (isObject(item) && typeof item.name === 'string' && typeof item.token === 'string' && item.token.length <= 8192 && /^[\x21-\x7e]+$/.test(item.token)) tokens.set(item.name, item.token);
  }
  return tokens;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
