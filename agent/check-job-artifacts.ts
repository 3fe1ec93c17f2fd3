/**
 * The artifacts of a job as the hub sent them, checked against the contract's schema (`JobArtifact` in
 * lib/agent-protocol.schema.json: a name, a source kind, an http(s) URL without spaces or control characters, a
 * SHA-256 in hex, a size, an OCI registry/repository/digest of sane shape) and rebuilt from known fields only, like the
 * rest of the spec (agent/check-job-spec.ts). Whether they are what the commit's own instruction file declares, and
 * allowed here, is judged later (agent/artifacts/deliver-artifacts.ts). The download token comes only with the claim
 * (see {@link artifactTokens}).
 *
 * @example
 * const checked = checkJobArtifacts(job.artifacts);
 * if ('problem' in checked) … else spec.artifacts = checked.artifacts;
 */
import { expectedAt, protocolProblems, type ProtocolProblem } from '../lib/check-protocol.js';
import { MAX_JOB_ARTIFACTS, type JobArtifact } from '../lib/protocol.js';

const MAX_ATTESTATIONS = 16;

/**
 * Checks the `artifacts` of a job: the list rebuilt from known fields, or the first problem, e.g.
 * "`artifacts[0].url`: expected an http(s) URL…, got "ftp://x"".
 *
 * @example
 * checkJobArtifacts([{ name: 'site', source: 'url', url, sha256 }]); // { artifacts: [{ name: 'site', … }] }
 */
export function checkJobArtifacts(value: unknown): { artifacts: JobArtifact[] } | { problem: string } {
  if (value === undefined) return { artifacts: [] };
  const problem = artifactProblems(value)[0];
  if (problem) return { problem: describeArtifactProblem(problem, value) };
  return { artifacts: (value as Record<string, unknown>[]).map(rebuild) };
}

/**
 * Where a job's artifacts break the schema. The token is not read from the job (it comes with the claim only), so a
 * problem with it is none.
 */
export function artifactProblems(value: unknown): ProtocolProblem[] {
  return protocolProblems('JobSpec', { artifacts: value }).filter(({ path }) => path[0] === 'artifacts' && path[2] !== 'token');
}

/** One problem as a sentence: the place, what the schema expects there, and what came. */
export function describeArtifactProblem({ path }: ProtocolProblem, value: unknown): string {
  const place = path.slice(1).reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : `${acc}.${seg}`), 'artifacts');
  const got = path.slice(1).reduce<unknown>((at, key) => (typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined), value);
  return `\`${place}\`: expected ${expectedAt('JobSpec', path) ?? 'something else'}, got ${describeValue(got)}`;
}

/** An artifact that conforms, rebuilt from the fields the agent uses. */
function rebuild(item: Record<string, unknown>): JobArtifact {
  const artifact: JobArtifact = { name: item.name as string, source: item.source as JobArtifact['source'] };
  if (artifact.source === 'oci') {
    const oci = item.oci as Required<NonNullable<JobArtifact['oci']>>;
    artifact.oci = { registry: oci.registry, repository: oci.repository, digest: oci.digest, ...(typeof oci.layer === 'string' ? { layer: oci.layer } : {}) };
  } else {
    artifact.url = item.url as string;
    artifact.sha256 = item.sha256 as string;
  }
  if (item.size !== undefined) artifact.size = item.size as number;
  if (Array.isArray(item.attestations)) artifact.attestations = item.attestations.slice(0, MAX_ATTESTATIONS).filter(isObject);
  if (typeof item.described === 'string') artifact.described = item.described.slice(0, 200).replace(/\p{Cc}/gu, ' ');
  return artifact;
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

/** A value as a message shows it: strings quoted and cut short (a hub may send megabytes), others by their type. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value !== 'string') return value === null ? '`null`' : Array.isArray(value) ? 'a list' : `a ${typeof value}`;
  const shown = JSON.stringify(value.length > 60 ? value.slice(0, 60) : value);
  return value.length > 60 ? `${shown}… (${value.length} characters)` : shown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
