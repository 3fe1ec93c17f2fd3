/**
 * Is what the hub resolved exactly what the commit's own instruction file declares? The hub pins tags to digests and
 * finds the Actions run; it must not choose other bytes. A `url` artifact must have the declared URL and SHA-256 (the
 * declared digest is the one used); an `oci` one the declared registry and repository (and the declared digest when
 * the reference pins one); a GitHub one the declared kind (the allowlist then insists on the job's own repository on
 * the GitHub its owner named). Returns what the allowlist judges, or why it does not match.
 *
 * @example
 * const matched = matchDeclared(declared, resolved, spec);
 * if ('problem' in matched) … // refuse the job
 */
import { expandCommit, sourceOf } from '../../config-schema/check-artifacts.js';
import type { Artifact } from '../../config-schema/types.generated.js';
import type { JobArtifact, JobSpec } from '../../lib/protocol.js';
import type { ArtifactSource } from './artifact-sources.js';
import { parseOciReference } from '../../lib/oci/parse-oci-reference.js';


const KIND_OF = { githubActions: 'github-actions', githubRelease: 'github-release', oci: 'oci', url: 'url' } as const;

export function matchDeclared(declared: Artifact, resolved: JobArtifact | undefined, spec: Pick<JobSpec, 'sha'>): { source: ArtifactSource; sha256?: string } | { problem: string } {
  const key = sourceOf(declared);
  const name = `artifact \`${declared.name}\``;
  if (!key) return { problem: `${name} names no single source` };
  const tampered = 'a hub that sends something else may have been tampered with';
  if (!resolved) {
    return {
      problem: `the hub sent nothing for ${name}, which the commit's instruction file declares: the hub could not read the file when it planned the deployment (its log says why: deploy again once it can), or it is older than this agent, or ${tampered}`,
    };
  }
  if (resolved.source !== KIND_OF[key]) return { problem: `the hub sent ${name} as a ${resolved.source} artifact, but the commit declares it from \`${key}\`; ${tampered}` };
  if (declared.url) {
    const url = expandCommit(declared.url.url, spec.sha);
    if (resolved.url !== url) return { problem: `the hub sent ${name} from ${resolved.url ?? 'nowhere'}, but the commit declares ${url}; ${tampered}` };
    return { source: { kind: 'url', url }, sha256: declared.url.sha256 };
  }
  if (declared.oci) {
    const ref = parseOciReference(expandCommit(declared.oci.reference, spec.sha));
    const got = resolved.oci;
    if (!got || got.registry !== ref.registry || got.repository !== ref.repository) {
      return { problem: `the hub sent ${name} from ${got ? `${got.registry}/${got.repository}` : 'nowhere'}, but the commit declares ${ref.registry}/${ref.repository}; ${tampered}` };
    }
    if (ref.digest && got.digest !== ref.digest) return { problem: `the hub sent ${name} as ${got.digest}, but the commit pins ${ref.digest}; ${tampered}` };
    if ((declared.oci.layer ?? undefined) !== got.layer) return { problem: `the hub sent ${name} with layer ${got.layer ?? '(none named)'}, but the commit names ${declared.oci.layer ?? '(none)'}; ${tampered}` };
    return { source: { kind: 'oci', registry: ref.registry, repository: ref.repository } };
  }
  // Which GitHub and which repository a download URL belongs to is the allowlist's to judge (artifact-sources.ts).
  if (!resolved.url) return { problem: `the hub sent ${name} without a download URL; ${tampered}` };
  return { source: { kind: KIND_OF[key] as 'github-actions' | 'github-release', url: resolved.url } };
}
