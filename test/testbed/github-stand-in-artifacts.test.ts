/**
 * The GitHub stand-in's Actions and Releases side as GitHub documents it: the run listing's filters and pages, an
 * expired artifact's 410, the blob URLs' ranges and expiry, and the response check that keeps its answers honest.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { artifactShape, type StoredRun } from '../../testbed/github-artifact-shapes.js';
import { loadGitHubContract } from '../../testbed/github-contract.js';
import { createBlobStore } from '../../testbed/github-stand-in-blobs.js';
import { startGitHubArtifactsRig, type GitHubArtifactsRig } from '../app/artifacts/github-artifacts-rig.js';

let rig: GitHubArtifactsRig;
beforeAll(async () => {
  rig = await startGitHubArtifactsRig();
}, 60_000);
afterAll(() => rig?.close());
afterEach(() => expect(rig.github.problems()).toEqual([]));

interface Listed {
  data: { total_count: number; workflow_runs: Array<{ id: number; workflow_id: number; status: string; conclusion: string | null }> };
}

describe('workflow runs and artifacts', () => {
  it("lists a workflow's runs newest first, filtered and paged as GitHub documents", async () => {
    const sha = 'b'.repeat(40);
    const add = (more: Partial<Parameters<GitHubArtifactsRig['github']['addWorkflowRun']>[1]>) => rig.github.addWorkflowRun('acme/lister', { workflow: 'ci.yml', headSha: sha, headBranch: 'main', ...more }).runId;
    const ok = add({});
    const failed = add({ conclusion: 'failure' });
    const running = add({ status: 'in_progress' });
    const tagged = add({ event: 'release', headBranch: 'v1.0.0' });
    add({ headSha: 'c'.repeat(40) });
    const octokit = await rig.installation();
    const list = async (query: Record<string, unknown>, workflow: string | number = 'ci.yml') =>
      ((await octokit.request('GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs', { owner: 'acme', repo: 'lister', workflow_id: workflow, ...query })) as Listed).data;
    expect((await list({ head_sha: sha })).workflow_runs.map((r) => r.id)).toEqual([tagged, running, failed, ok]);
    expect((await list({ head_sha: sha, status: 'failure' })).workflow_runs.map((r) => r.id)).toEqual([failed]);
    expect((await list({ status: 'in_progress' })).workflow_runs).toMatchObject([{ id: running, status: 'in_progress', conclusion: null }]);
    expect((await list({ event: 'release', branch: 'v1.0.0' })).workflow_runs.map((r) => r.id)).toEqual([tagged]);
    const second = await list({ head_sha: sha, per_page: 3, page: 2 });
    expect([second.total_count, second.workflow_runs.map((r) => r.id)]).toEqual([4, [ok]]);
    // A workflow is also found by its id, as GitHub allows.
    const workflowId = (await list({})).workflow_runs[0]!.workflow_id;
    expect((await list({}, workflowId)).total_count).toBe(5);
    await expect(list({}, 'nope.yml')).rejects.toMatchObject({ status: 404 });
  });

  it('answers an expired artifact\'s download with 410, and filters a run\'s artifacts by name', async () => {
    const { runId, artifactIds } = rig.github.addWorkflowRun('acme/old', { workflow: 'ci.yml', headSha: 'd'.repeat(40), headBranch: 'main', artifacts: [{ name: 'a', bytes: Buffer.from('a') }, { name: 'b', bytes: Buffer.from('b'), expired: true }] });
    const octokit = await rig.installation();
    const named = (await octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts', { owner: 'acme', repo: 'old', run_id: runId, name: 'b' })) as { data: { artifacts: Array<{ id: number; expired: boolean }> } };
    expect(named.data.artifacts).toMatchObject([{ id: artifactIds[1], expired: true }]);
    await expect(octokit.request('GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}', { owner: 'acme', repo: 'old', artifact_id: artifactIds[1], archive_format: 'zip', request: { redirect: 'manual' } })).rejects.toMatchObject({ status: 410 });
  });
});

describe('blob URLs', () => {
  let server: Server;
  let base = '';
  const blobs = createBlobStore(() => base);
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (!blobs.serve(req, res, new URL(req.url ?? '/', base))) res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers ranges (suffix, open, past the end) and refuses an expired or unknown URL', async () => {
    const url = blobs.urlFor(Buffer.from('0123456789'));
    const get = (range?: string, at = url) => fetch(at, range ? { headers: { range } } : {});
    const last = await get('bytes=-4');
    expect([last.status, last.headers.get('content-range'), await last.text()]).toEqual([206, 'bytes 6-9/10', '6789']);
    const middle = await get('bytes=2-4');
    expect([middle.status, await middle.text()]).toEqual([206, '234']);
    const past = await get('bytes=10-');
    expect([past.status, past.headers.get('content-range')]).toEqual([416, 'bytes */10']);
    expect((await get(undefined, url.replace(/_blobs\/\w+/, '_blobs/guessed'))).status).toBe(404);
    const brief = blobs.urlFor(Buffer.from('x'), 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await get(undefined, brief)).status).toBe(403);
  });
});

describe("the response check (GitHub's response schemas)", () => {
  it('passes an artifact as the stand-in shapes it, and names what a wrong one lacks', async () => {
    const contract = await loadGitHubContract('api.github.com');
    const run: StoredRun = { id: 1, repository: 'o/r', workflow: 'ci.yml', workflowId: 2, runNumber: 1, headSha: 'e'.repeat(40), headBranch: 'main', event: 'push', status: 'completed', conclusion: 'success', createdAt: '2025-01-01T00:00:00Z', artifacts: [] };
    const good = artifactShape({ id: 3, name: 'site', bytes: Buffer.from('x') }, run, 'https://api.github.com');
    const path = '/repos/o/r/actions/runs/1/artifacts';
    expect(contract.responseProblems('GET', path, 200, { total_count: 1, artifacts: [good] })).toEqual([]);
    const { archive_download_url: _dropped, ...bad } = good;
    expect(contract.responseProblems('GET', path, 200, { total_count: 1, artifacts: [{ ...bad, expired: 'no' }] })).toEqual([
      "api.github.com: GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts → 200: answer/artifacts/0 must have required property 'archive_download_url'",
      'api.github.com: GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts → 200: answer/artifacts/0/expired must be boolean',
    ]);
  });
});
