/**
 * resolveReleaseAsset against the GitHub stand-in over real HTTP, with the hub's real Probot installation client: an
 * asset by name and by pattern, and each way it can be missing or ambiguous, in words. Every request and answer must
 * match GitHub's published description.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveReleaseAsset } from '../../../app/artifacts/resolve-release-asset.js';
import { startGitHubArtifactsRig, type GitHubArtifactsRig } from './github-artifacts-rig.js';

let rig: GitHubArtifactsRig;
let release: { releaseId: number; assetIds: number[] };
const amd64 = Buffer.from('shop binary for linux/amd64');
beforeAll(async () => {
  rig = await startGitHubArtifactsRig();
  release = rig.github.addRelease('acme/shop', {
    tag: 'v1.2.0',
    assets: [
      { name: 'shop-1.2.0-linux-amd64.tar.gz', bytes: amd64 },
      { name: 'shop-1.2.0-linux-arm64.tar.gz', bytes: Buffer.from('arm64') },
      { name: 'checksums.txt', bytes: Buffer.from('sums') },
    ],
  });
}, 60_000);
afterAll(() => rig?.close());
afterEach(() => expect(rig.github.problems()).toEqual([]));

const resolve = async (tag: string, asset: string) => resolveReleaseAsset(await rig.installation(), { repository: 'acme/shop', tag, asset });
const message = async (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('resolved'),
    (err: { code: string; message: string }) => (expect(err.code).toBe('BE_ARTIFACT'), err.message),
  );

describe('resolveReleaseAsset', () => {
  it('resolves an asset by name to its API URL, digest and size', async () => {
    const hex = createHash('sha256').update(amd64).digest('hex');
    expect(await resolve('v1.2.0', 'shop-1.2.0-linux-amd64.tar.gz')).toEqual({
      source: 'github-release',
      name: 'shop-1.2.0-linux-amd64.tar.gz',
      url: `${rig.github.url}/api/v3/repos/acme/shop/releases/assets/${release.assetIds[0]}`,
      sha256: hex,
      size: amd64.length,
      releaseId: release.releaseId,
      assetId: release.assetIds[0],
      described: `asset \`shop-1.2.0-linux-amd64.tar.gz\` of release v1.2.0 (${amd64.length} B, sha256:${hex.slice(0, 12)}…)`,
    });
  });

  it('resolves a pattern that matches one asset, and refuses one that matches several', async () => {
    expect((await resolve('v1.2.0', 'shop-*-linux-amd??.tar.gz')).assetId).toBe(release.assetIds[0]);
    // `.` is literal in a pattern: `checksums?txt` matches, `checksums.tx` does not.
    expect((await resolve('v1.2.0', 'checksums?txt')).assetId).toBe(release.assetIds[2]);
    expect(await message(resolve('v1.2.0', 'shop-*.tar.gz'))).toBe(
      'release v1.2.0 of acme/shop has 2 assets matching `shop-*.tar.gz` (shop-1.2.0-linux-amd64.tar.gz, shop-1.2.0-linux-arm64.tar.gz): name one asset, or narrow the pattern until one matches',
    );
    expect(await message(resolve('v1.2.0', 'shop-*.zip'))).toBe(
      'release v1.2.0 of acme/shop has no asset matching `shop-*.zip` (it has: shop-1.2.0-linux-amd64.tar.gz, shop-1.2.0-linux-arm64.tar.gz, checksums.txt): check `asset:` against the release\'s assets',
    );
    expect(await message(resolve('v1.2.0', 'checksums.tx'))).toMatch(/^release v1.2.0 of acme\/shop has no asset named `checksums.tx`/);
    // A pattern covers the whole name: `*.tar` is not a prefix of `….tar.gz`.
    expect(await message(resolve('v1.2.0', '*.tar'))).toMatch(/^release v1.2.0 of acme\/shop has no asset matching `\*.tar`/);
  });

  it('refuses a missing tag and a draft release, saying to publish it', async () => {
    rig.github.addRelease('acme/shop', { tag: 'v2.0.0', draft: true, assets: [{ name: 'shop.tar.gz', bytes: amd64 }] });
    for (const tag of ['v9.9.9', 'v2.0.0']) {
      expect(await message(resolve(tag, 'shop.tar.gz'))).toBe(
        `acme/shop has no published release for the tag \`${tag}\` (a draft release or a bare tag does not count): publish the release, or check \`tag:\``,
      );
    }
  });

  it('refuses an asset without a digest, saying to upload it again or use a url source', async () => {
    rig.github.addRelease('acme/shop', { tag: 'v0.9.0', prerelease: true, assets: [{ name: 'shop.tar.gz', bytes: amd64, withoutDigest: true }] });
    expect(await message(resolve('v0.9.0', 'shop.tar.gz'))).toBe(
      'asset `shop.tar.gz` of release v0.9.0 of acme/shop has no digest (uploaded before GitHub recorded asset digests): upload it to the release again, or deploy it from a `url` source with its `sha256`',
    );
  });
});
