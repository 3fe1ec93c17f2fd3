/**
 * mintArtifactToken against the GitHub stand-in: the token an agent gets downloads exactly its repository's artifact
 * or release asset — the way the agent will, following GitHub's 302 to blob storage without the token — and nothing
 * of another repository, and nothing its one permission does not cover.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintArtifactToken } from '../../../app/artifacts/artifact-token.js';
import { ACME, GLOBEX, startGitHubArtifactsRig, zipOf, type GitHubArtifactsRig } from './github-artifacts-rig.js';

let rig: GitHubArtifactsRig;
let site: Buffer;
let artifactUrl: string;
let assetUrl: string;
beforeAll(async () => {
  rig = await startGitHubArtifactsRig();
  site = await zipOf({ 'index.html': '<h1>shop</h1>' });
  const { artifactIds } = rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: 'a'.repeat(40), headBranch: 'main', artifacts: [{ name: 'site', bytes: site }] });
  const { assetIds } = rig.github.addRelease('acme/shop', { tag: 'v1.0.0', assets: [{ name: 'shop.tar.gz', bytes: Buffer.from('release bytes') }] });
  artifactUrl = `${rig.github.url}/api/v3/repos/acme/shop/actions/artifacts/${artifactIds[0]}/zip`;
  assetUrl = `${rig.github.url}/api/v3/repos/acme/shop/releases/assets/${assetIds[0]}`;
}, 60_000);
afterAll(() => rig?.close());
afterEach(() => expect(rig.github.problems()).toEqual([]));

const mint = async (repository: string, kind: 'github-actions' | 'github-release', installation = ACME) => (await mintArtifactToken(await rig.app(), installation, repository, kind)).token;
const ask = (url: string, token: string, headers: Record<string, string> = {}) => fetch(url, { redirect: 'manual', headers: { authorization: `token ${token}`, ...headers } });

describe('mintArtifactToken', () => {
  it('mints a one-hour token that downloads the artifact: 302 to storage, fetched without the token, resumable', async () => {
    const minted = await mintArtifactToken(await rig.app(), ACME, 'acme/shop', 'github-actions');
    expect(Date.parse(minted.expiresAt) - Date.now()).toBeGreaterThan(59 * 60_000);
    const redirect = await ask(artifactUrl, minted.token);
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location')!;
    expect(location.startsWith(`${rig.github.url}/_blobs/`)).toBe(true);

    const whole = await fetch(location);
    expect(whole.status).toBe(200);
    expect(createHash('sha256').update(Buffer.from(await whole.arrayBuffer())).digest('hex')).toBe(createHash('sha256').update(site).digest('hex'));
    expect(rig.github.blobRequests.at(-1)).toMatchObject({ authorization: false, status: 200 });

    const rest = await fetch(location, { headers: { range: 'bytes=10-' } });
    expect(rest.status).toBe(206);
    expect(rest.headers.get('content-range')).toBe(`bytes 10-${site.length - 1}/${site.length}`);
    expect(Buffer.from(await rest.arrayBuffer()).equals(site.subarray(10))).toBe(true);
    // Storage refuses the GitHub token riding along (what a client following the redirect blindly would send).
    expect((await fetch(location, { headers: { authorization: `token ${minted.token}` } })).status).toBe(400);
  });

  it("gives a token of another repository, or another owner's installation, a 404", async () => {
    for (const token of [await mint('acme/other', 'github-actions'), await mint('globex/api', 'github-actions', GLOBEX)]) {
      expect((await ask(artifactUrl, token)).status).toBe(404);
    }
  });

  it('gives a release token the asset and not the artifact, and an Actions token not the asset', async () => {
    const release = await mint('acme/shop', 'github-release');
    const redirect = await ask(assetUrl, release, { accept: 'application/octet-stream' });
    expect(redirect.status).toBe(302);
    expect(await (await fetch(redirect.headers.get('location')!)).text()).toBe('release bytes');
    // Without asking for the bytes, GitHub describes the asset.
    expect(await (await ask(assetUrl, release)).json()).toMatchObject({ name: 'shop.tar.gz', digest: `sha256:${createHash('sha256').update('release bytes').digest('hex')}` });

    expect((await ask(artifactUrl, release)).status).toBe(403);
    expect((await ask(assetUrl, await mint('acme/shop', 'github-actions'), { accept: 'application/octet-stream' })).status).toBe(403);
  });
});
