/**
 * What the instruction file's schema cannot say about `artifacts`: each names exactly one source, names are unique,
 * and where each lands fits the release — with `source: git` inside the checkout (a subdirectory, never the release
 * itself), with `source: artifact` exactly one artifact is the release (`path: .`, the default) and the others land
 * in it. Pure: the agent and the hub's plan judge the same file the same way.
 *
 * @example
 * checkArtifacts(file); // [{ segments: ['artifacts', '1'], message: '…', hint: '…' }]
 */
import type { Artifact, InstructionFile } from './types.generated.js';

export const ARTIFACT_SOURCES = ['githubActions', 'githubRelease', 'oci', 'url'] as const;
export type ArtifactSourceKey = (typeof ARTIFACT_SOURCES)[number];

export interface ArtifactIssue {
  segments: string[];
  message: string;
  hint: string;
}

/** The one source an artifact declares (undefined when it declares none or several: {@link checkArtifacts} says so). */
export function sourceOf(artifact: Artifact): ArtifactSourceKey | undefined {
  const named = ARTIFACT_SOURCES.filter((key) => artifact[key] !== undefined);
  return named.length === 1 ? named[0] : undefined;
}

/** Where an artifact lands, relative to the release: its `path`, or `.` (the release itself). */
export function landingPath(artifact: Artifact): string {
  return artifact.path ?? '.';
}

export function checkArtifacts(file: Pick<InstructionFile, 'source' | 'artifacts'>): ArtifactIssue[] {
  const issues: ArtifactIssue[] = [];
  const artifacts = file.artifacts ?? [];
  const fromArtifacts = file.source === 'artifact';
  if (fromArtifacts && artifacts.length === 0) {
    issues.push({ segments: ['source'], message: '`source: artifact` needs at least one artifact: the release holds nothing else', hint: 'add `artifacts:` (e.g. `- { name: site, githubActions: { workflow: build.yml, artifact: site } }`) or remove `source: artifact`' });
  }
  const names = new Set<string>();
  const paths = new Map<string, string>();
  artifacts.forEach((artifact, index) => {
    const at = ['artifacts', String(index)];
    const named = ARTIFACT_SOURCES.filter((key) => artifact[key] !== undefined);
    if (named.length !== 1) {
      issues.push({
        segments: at,
        message: named.length === 0 ? `artifact \`${artifact.name}\` names no source` : `artifact \`${artifact.name}\` names ${named.length} sources (${named.map((k) => `\`${k}\``).join(', ')})`,
        hint: 'give it exactly one of `githubActions`, `githubRelease`, `oci` or `url`',
      });
    }
    if (names.has(artifact.name)) issues.push({ segments: [...at, 'name'], message: `two artifacts are named \`${artifact.name}\``, hint: 'give each artifact a name of its own' });
    names.add(artifact.name);
    const path = landingPath(artifact);
    const earlier = paths.get(path);
    if (earlier !== undefined) {
      issues.push({ segments: [...at, 'path'], message: `artifacts \`${earlier}\` and \`${artifact.name}\` both land at \`${path}\``, hint: 'give each artifact a `path` of its own' });
    }
    paths.set(path, artifact.name);
    if (path === '.' && !fromArtifacts) {
      issues.push({ segments: [...at, 'path'], message: `artifact \`${artifact.name}\` would land on the release itself, which holds the commit's files (\`source: git\`)`, hint: 'give it a `path` inside the release, e.g. `public`, or set `source: artifact` to ship it without the repository' });
    }
    if (path === '.' && artifact.unpack === false) {
      issues.push({ segments: [...at, 'unpack'], message: `artifact \`${artifact.name}\` is kept packed but has no file name to land as`, hint: 'give it a `path` naming the file, e.g. `bin/app`' });
    }
  });
  if (fromArtifacts && artifacts.length > 0 && !paths.has('.')) {
    issues.push({ segments: ['artifacts'], message: 'with `source: artifact` one artifact must be the release itself (`path: .`, the default)', hint: 'leave `path` out on the artifact that is the release' });
  }
  return issues;
}

/**
 * `{sha}` and `{shortSha}` in a tag, reference or URL, replaced by the deployed commit (the hub and the agent expand
 * them the same way).
 *
 * @example
 * expandCommit('ghcr.io/acme/site:sha-{shortSha}', '4f2c1a9…'); // 'ghcr.io/acme/site:sha-4f2c1a9'
 */
export function expandCommit(text: string, sha: string): string {
  return text.replaceAll('{sha}', sha).replaceAll('{shortSha}', sha.slice(0, 7));
}
