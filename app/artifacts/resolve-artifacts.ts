/**
 * The artifacts a deployment's commit declares, resolved when the deployment is planned, so every server of the
 * rollout gets exactly the same bytes: a URL with its declared SHA-256, an OCI tag pinned to its manifest's digest,
 * the GitHub Actions run of exactly this commit, a release asset. What is resolved is kept on the deployment (shown on
 * the plan, the deployment page and the GitHub Deployment's payload) and handed to each job; the agent checks it
 * against the commit's own declaration. An artifact that cannot be had is an error naming it and what to do.
 *
 * @example
 * const artifacts = await resolveArtifacts(resolvers, { repository, gitUrl, sha, ref, instructions });
 */
import { expandCommit, sourceOf } from '../../config-schema/check-artifacts.js';
import { parseInstructions } from '../../config-schema/load-instructions.js';
import type { Artifact } from '../../config-schema/types.generated.js';
import { BitEnvoyError } from '../../lib/errors.js';
import type { JobArtifact } from '../../lib/protocol.js';
import type { InstructionsTarget, ReadInstructions } from './read-instructions-at-commit.js';
import { resolveOciTag } from './resolve-oci-tag.js';

export interface ArtifactTarget extends InstructionsTarget {
  ref: string;
}

/** Resolves a GitHub-hosted artifact (GitHub mode only). */
export type ResolveGitHubArtifact = (target: ArtifactTarget, artifact: Artifact) => Promise<JobArtifact>;

export interface ArtifactResolvers {
  readInstructions: ReadInstructions;
  /** `githubActions` and `githubRelease` sources; absent in local mode. */
  github?: ResolveGitHubArtifact;
  /** The build attestations of a digest (GitHub mode), kept with the artifact for agents that require provenance. */
  attestations?: (target: ArtifactTarget, sha256: string) => Promise<unknown[]>;
  /** Registries spoken to over plain http (`BITENVOY_INSECURE_REGISTRIES`): a test registry on loopback. */
  insecureRegistries?: readonly string[];
  timeoutMs?: number;
  /**
   * The instruction file could not be read (the git host or GitHub failing): the deployment goes ahead without
   * artifacts — a commit that declares some then fails on its servers, each naming the artifact it did not get.
   */
  onUnreadable?: (target: ArtifactTarget, err: unknown) => void;
}

/** Resolves what the commit declares; [] when it declares nothing (or its file is missing or invalid: the agent says why). */
export async function resolveArtifacts(resolvers: ArtifactResolvers, target: ArtifactTarget): Promise<JobArtifact[]> {
  let text: string | undefined;
  try {
    text = await resolvers.readInstructions(target);
  } catch (err) {
    resolvers.onUnreadable?.(target, err);
    return [];
  }
  if (text === undefined) return [];
  const parsed = parseInstructions(text, target.instructions).value;
  const resolved: JobArtifact[] = [];
  for (const artifact of parsed?.artifacts ?? []) {
    const one = await resolveOne(resolvers, target, artifact);
    const bundles = one.sha256 && resolvers.attestations ? await resolvers.attestations(target, one.sha256) : [];
    resolved.push(bundles.length ? { ...one, attestations: bundles } : one);
  }
  return resolved;
}

async function resolveOne(resolvers: ArtifactResolvers, target: ArtifactTarget, artifact: Artifact): Promise<JobArtifact> {
  const key = sourceOf(artifact);
  if (artifact.url) {
    const url = expandCommit(artifact.url.url, target.sha);
    return { name: artifact.name, source: 'url', url, sha256: artifact.url.sha256, described: url };
  }
  if (artifact.oci) {
    const reference = expandCommit(artifact.oci.reference, target.sha);
    const found = await resolveOciTag(reference, { timeoutMs: resolvers.timeoutMs ?? 15_000, ...(resolvers.insecureRegistries ? { insecureRegistries: resolvers.insecureRegistries } : {}) }).catch((err: unknown) => {
      throw new BitEnvoyError('BE_ARTIFACT', `artifact \`${artifact.name}\`: ${(err as Error).message}`, { cause: err });
    });
    return {
      name: artifact.name,
      source: 'oci',
      oci: { registry: found.registry, repository: found.repository, digest: found.digest, ...(artifact.oci.layer ? { layer: artifact.oci.layer } : {}) },
      described: `${reference} → ${found.digest.slice(0, 19)}…`,
    };
  }
  if (!resolvers.github) {
    throw new BitEnvoyError('BE_ARTIFACT', `artifact \`${artifact.name}\` comes from GitHub (\`${key}\`), which only a hub in GitHub mode can resolve; deliver it through \`url\` (with its sha256) or \`oci\` in local mode`);
  }
  return resolvers.github(target, artifact);
}

/**
 * A commit's artifacts as an automatic deploy sees them before it asks GitHub for the deployment: not there yet
 * (`resolve` failed with an error GitHub's run says will clear: its build workflow has not finished), or what they
 * are — none when they fail for good (the deployment, planned anyway, then says why).
 *
 * @example
 * await artifactsBeforeDeploying(() => resolveArtifacts(resolvers, target)); // { pending: 'workflow build.yml has no successful run …' }
 */
export async function artifactsBeforeDeploying(resolve: () => Promise<JobArtifact[]>): Promise<{ pending: string } | { artifacts: JobArtifact[] }> {
  try {
    return { artifacts: await resolve() };
  } catch (err) {
    return err instanceof BitEnvoyError && err.details?.pending === true ? { pending: err.message } : { artifacts: [] };
  }
}
