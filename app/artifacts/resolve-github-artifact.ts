/**
 * GitHub mode's resolver of `githubActions` and `githubRelease` artifacts (resolve-artifacts.ts calls it): the
 * installation's Octokit for the repository, then the Actions run of exactly the deployed commit or the release
 * asset, as the wire's JobArtifact — without a token (one is minted at each claim, see {@link withArtifactTokens}).
 *
 * @example
 * const github = githubArtifactResolver((t) => installationOctokit(t.installationId!));
 */
import { expandCommit } from '../../config-schema/check-artifacts.js';
import type { Artifact } from '../../config-schema/types.generated.js';
import { BitEnvoyError } from '../../lib/errors.js';
import type { JobArtifact, JobSpec } from '../../lib/protocol.js';
import type { ReadPermissions } from '../github/repository-token.js';
import type { StatusOctokit } from '../github/status-reporter.js';
import { ARTIFACT_PERMISSIONS } from './artifact-token.js';
import type { ArtifactTarget, ResolveGitHubArtifact } from './resolve-artifacts.js';
import { resolveActionsArtifact } from './resolve-actions-artifact.js';
import { resolveReleaseAsset } from './resolve-release-asset.js';

export function githubArtifactResolver(octokitFor: (target: ArtifactTarget) => Promise<StatusOctokit | undefined>): ResolveGitHubArtifact {
  return async (target, artifact: Artifact) => {
    const octokit = await octokitFor(target);
    if (!octokit) {
      throw new BitEnvoyError('BE_ARTIFACT', `artifact \`${artifact.name}\` is on GitHub, but the App is not installed on ${target.repository}: install it there, or deliver the artifact through \`url\` or \`oci\``);
    }
    try {
      const found = artifact.githubActions
        ? await resolveActionsArtifact(octokit, { repository: target.repository, sha: target.sha, ref: target.ref, workflow: artifact.githubActions.workflow, name: artifact.githubActions.artifact })
        : await resolveReleaseAsset(octokit, { repository: target.repository, tag: expandCommit(artifact.githubRelease!.tag, target.sha), asset: expandCommit(artifact.githubRelease!.asset, target.sha) });
      return { name: artifact.name, source: found.source, url: found.url, sha256: found.sha256, size: found.size, described: found.described };
    } catch (err) {
      if (err instanceof BitEnvoyError) throw new BitEnvoyError(err.code, `artifact \`${artifact.name}\`: ${err.message}`, { cause: err, ...(err.details ? { details: err.details } : {}) });
      throw err;
    }
  };
}

/**
 * The spec of a claimed job with a fresh read token on each GitHub artifact: `tokenFor` (RepositoryTokens, shared by
 * every claim of the repository until it nears its end) gives one per permission, so the GitHub requests of a rollout
 * do not grow with its servers. Tokens travel in the claim answer only; nothing stores them.
 */
export async function withArtifactTokens(spec: JobSpec, tokenFor: (permissions: ReadPermissions) => Promise<string>): Promise<JobSpec> {
  if (!spec.artifacts?.some((a) => a.source === 'github-actions' || a.source === 'github-release')) return spec;
  const artifacts: JobArtifact[] = [];
  for (const artifact of spec.artifacts) {
    const needs = artifact.source === 'github-actions' || artifact.source === 'github-release' ? ARTIFACT_PERMISSIONS[artifact.source] : undefined;
    artifacts.push(needs ? { ...artifact, token: await tokenFor(needs) } : artifact);
  }
  return { ...spec, artifacts };
}

/**
 * The build attestations GitHub keeps for an artifact's digest in the repository (`GET
 * /repos/{owner}/{repo}/attestations/sha256:{hex}`): the Sigstore bundles, handed to agents unchanged — an agent that
 * requires provenance verifies them itself against its own trust root, so the hub is not trusted with them. None
 * (404, or the lookup failed) is an empty list: only agents that require provenance care, and they refuse then.
 */
export function githubAttestations(octokitFor: (target: ArtifactTarget) => Promise<StatusOctokit | undefined>): (target: ArtifactTarget, sha256: string) => Promise<unknown[]> {
  return async (target, sha256) => {
    const octokit = await octokitFor(target);
    if (!octokit || !/^[0-9a-f]{64}$/.test(sha256)) return [];
    const [owner, repo] = target.repository.split('/') as [string, string];
    try {
      const res = (await octokit.request('GET /repos/{owner}/{repo}/attestations/{subject_digest}', { owner, repo, subject_digest: `sha256:${sha256}`, per_page: 30 })) as { data?: { attestations?: Array<{ bundle?: unknown }> } };
      return (res.data?.attestations ?? []).map((a) => a.bundle).filter((b) => typeof b === 'object' && b !== null);
    } catch {
      return [];
    }
  };
}
