/**
 * `allow.artifactSources`: where the bytes a job deploys may come from. The hub resolves every artifact and tells the
 * agent where to download it; without this rule a compromised hub could point an agent at bytes of its own choosing
 * (with a digest of its own choosing). Absent, no artifact is accepted at all: unlike the git rules, this one fails
 * closed, because artifacts are new and nobody's existing agent.yml relies on them being open.
 *
 * The grammar is described in config-schema/agent.schema.json (`allow.artifactSources`).
 *
 * @example
 * artifactSourceRefusal({ artifactSources: ['ghcr.io/acme/*'] }, 'acme/shop', { kind: 'oci', registry: 'ghcr.io', repository: 'acme/shop' }); // undefined
 * artifactSourceRefusal({}, 'acme/shop', { kind: 'url', url: 'https://cdn.acme.com/a.tgz' }); // "…no artifact is accepted at all…"
 */
import type { Allowlist } from '../allowlist.js';
import { clipped, listed } from '../listed.js';
import { parseArtifactUrl, shownUrl } from './artifact-url.js';
import { githubArtifactPlace, githubPatternPlace } from './github-artifact-place.js';

/** Where the hub says an artifact comes from. GitHub kinds carry the download URL the hub resolved. */
export type ArtifactSource =
  | { kind: 'github-actions'; url: string }
  | { kind: 'github-release'; url: string }
  | { kind: 'oci'; registry: string; repository: string }
  | { kind: 'url'; url: string };

/** OCI distribution spec: `host[:port]` and lowercase path components separated by `.`, `_`, `__` or dashes. */
const OCI_REGISTRY = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/;
const OCI_REPOSITORY = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;

/**
 * Why `allow.artifactSources` refuses `source` for a job of `repository` (`owner/name`), or undefined when a pattern
 * accepts it. The reason names the source (without credentials) and the line to add, or says why no line would do.
 */
export function artifactSourceRefusal(allow: Allowlist, repository: string, source: ArtifactSource): string | undefined {
  const checked = checkSource(source, repository);
  const head = `this agent's allowlist does not accept artifact source ${clipped(checked.shown)} for ${repository}`;
  if ('flaw' in checked) {
    return `${head} (${checked.flaw}); such a source is never accepted: if the repository's config really names it, fix it there; a hub that sends it unasked may have been tampered with`;
  }
  const patterns = allow?.artifactSources;
  const fix = `the server's owner can add \`${checked.suggestion}\` to allow.artifactSources in agent.yml and restart the agent`;
  if (!patterns?.length) return `${head} (agent.yml has no allow.artifactSources, so this agent accepts no artifact at all); ${fix}`;
  if (patterns.some((pattern) => checked.matches(pattern))) return undefined;
  return `${head} (allow.artifactSources: ${listed(patterns)}); ${fix}`;
}

type CheckedSource = { shown: string; flaw: string } | { shown: string; suggestion: string; matches(pattern: string): boolean };

/** What is wrong with `source` whatever the patterns are, or how it is matched and which pattern would accept it. */
function checkSource(source: ArtifactSource, repository: string): CheckedSource {
  if (source.kind === 'oci') {
    const shown = `OCI ${source.registry}/${source.repository}`;
    if (!OCI_REGISTRY.test(source.registry)) return { shown, flaw: 'the registry is not a plain `host[:port]`' };
    if (!OCI_REPOSITORY.test(source.repository)) return { shown, flaw: 'the repository is not a valid OCI repository name (lowercase segments separated by `/`)' };
    return { shown, suggestion: `${source.registry.toLowerCase()}/${source.repository}`, matches: (pattern) => matchesOci(pattern, source.registry, source.repository) };
  }
  const parsed = parseArtifactUrl(source.url);
  const shown = `${source.kind === 'url' ? 'URL' : source.kind} ${shownUrl(source.url)}`;
  if (parsed.flaw !== undefined) return { shown, flaw: parsed.flaw };
  if (source.kind === 'url') {
    const directory = parsed.path.slice(0, parsed.path.lastIndexOf('/') + 1);
    return { shown, suggestion: parsed.origin + directory, matches: (pattern) => matchesUrlPrefix(pattern, parsed.origin, parsed.path) };
  }
  const place = githubArtifactPlace(source.kind, parsed.origin, parsed.path);
  if ('flaw' in place) return { shown, flaw: place.flaw };
  if (place.repository.toLowerCase() !== repository.toLowerCase()) {
    return { shown, flaw: `it belongs to repository ${place.repository}, and an agent takes GitHub artifacts only from the job's own repository` };
  }
  const name = source.kind === 'github-actions' ? 'github-actions' : 'github-releases';
  return {
    shown,
    suggestion: place.instance === 'https://github.com' ? name : `${name}@${place.instance}`,
    matches: (pattern) => githubPatternPlace(pattern)?.kind === name && githubPatternPlace(pattern)?.instance === place.instance,
  };
}

/** `ghcr.io/acme/*` against registry `ghcr.io` and repository `acme/shop`: host without case, `*` one segment. */
function matchesOci(pattern: string, registry: string, repository: string): boolean {
  if (/^(https?:\/\/|github-)/.test(pattern)) return false;
  const [host = '', ...segments] = pattern.split('/');
  const parts = repository.split('/');
  if (host.toLowerCase() !== registry.toLowerCase() || segments.length !== parts.length) return false;
  return segments.every((segment, i) => segment === parts[i] || (segment === '*' && parts[i] !== ''));
}

/** `https://cdn.acme.com/builds/`: the same origin, and a path under the prefix that ends at a `/`. */
function matchesUrlPrefix(pattern: string, origin: string, path: string): boolean {
  if (!/^https?:\/\//i.test(pattern)) return false;
  const prefix = parseArtifactUrl(pattern);
  if (prefix.flaw !== undefined || prefix.origin !== origin) return false;
  const directory = prefix.path.endsWith('/') ? prefix.path : `${prefix.path}/`;
  return path.startsWith(directory);
}
