/**
 * Plan time, on the hub: finds the GitHub Release asset an instruction file names — the published release of a tag,
 * and one asset in it by exact name or by a pattern (`*` any run of characters, `?` one) that must match exactly one
 * asset — and pins it by the digest GitHub recorded at upload. The agent downloads it from `url` (the asset's API URL,
 * asked for as `application/octet-stream`) with a token minted at claim time (artifact-token.ts).
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { StatusOctokit } from '../github/status-reporter.js';
import { describeSize, readGitHub, sha256Of, splitRepository, type ResolvedGitHubArtifact } from './github-artifact-errors.js';

export interface ReleaseAssetWanted {
  /** `owner/name`. */
  repository: string;
  /** The release's tag, e.g. `v1.2.0`. */
  tag: string;
  /** The asset's name, or a pattern with `*` and `?`, e.g. `shop-*-linux-amd64.tar.gz`. */
  asset: string;
}

export interface ResolvedReleaseAsset extends ResolvedGitHubArtifact {
  source: 'github-release';
  releaseId: number;
  assetId: number;
}

interface Asset {
  id: number;
  name: string;
  size: number;
  url: string;
  digest?: string | null;
}

/**
 * @example
 * const asset = await resolveReleaseAsset(await probot.auth(installationId), { repository: 'acme/shop', tag: 'v1.2.0', asset: 'shop-*.tar.gz' });
 * asset.url; // https://api.github.com/repos/acme/shop/releases/assets/123
 */
export async function resolveReleaseAsset(octokit: StatusOctokit, want: ReleaseAssetWanted): Promise<ResolvedReleaseAsset> {
  const { owner, repo } = splitRepository(want.repository);
  const release = await readGitHub<{ id: number; tag_name: string; assets: Asset[] }>(() => octokit.request('GET /repos/{owner}/{repo}/releases/tags/{tag}', { owner, repo, tag: want.tag }), {
    permission: 'contents: read',
    repository: want.repository,
    // GitHub finds only published releases by tag: a draft, or a tag with no release, answers the same.
    notFound: `${want.repository} has no published release for the tag \`${want.tag}\` (a draft release or a bare tag does not count): publish the release, or check \`tag:\``,
  });
  const where = `release ${want.tag} of ${want.repository}`;
  const pattern = /[*?]/.test(want.asset);
  const matches = release.assets.filter((a) => (pattern ? globToRegExp(want.asset).test(a.name) : a.name === want.asset));
  const details = { repository: want.repository, tag: want.tag, releaseId: release.id };
  if (matches.length === 0) {
    const names = release.assets.map((a) => a.name);
    throw new BitEnvoyError('BE_ARTIFACT', `${where} has no asset ${pattern ? 'matching' : 'named'} \`${want.asset}\` (it has: ${names.join(', ') || 'none'}): check \`asset:\` against the release's assets`, {
      details: { ...details, assets: names },
    });
  }
  if (matches.length > 1) {
    const names = matches.map((a) => a.name);
    throw new BitEnvoyError('BE_ARTIFACT', `${where} has ${names.length} assets matching \`${want.asset}\` (${names.join(', ')}): name one asset, or narrow the pattern until one matches`, {
      details: { ...details, assets: names },
    });
  }
  const asset = matches[0]!;
  const sha256 = sha256Of(asset.digest);
  if (!sha256) {
    throw new BitEnvoyError(
      'BE_ARTIFACT',
      `asset \`${asset.name}\` of ${where} has no digest (uploaded before GitHub recorded asset digests): upload it to the release again, or deploy it from a \`url\` source with its \`sha256\``,
      { details: { ...details, assetId: asset.id } },
    );
  }
  return {
    source: 'github-release',
    name: asset.name,
    url: asset.url,
    sha256,
    size: asset.size,
    releaseId: release.id,
    assetId: asset.id,
    described: `asset \`${asset.name}\` of release ${release.tag_name} (${describeSize(asset.size)}, sha256:${sha256.slice(0, 12)}…)`,
  };
}

/** `*` any run of characters, `?` exactly one; everything else literal. */
function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 'su');
}
