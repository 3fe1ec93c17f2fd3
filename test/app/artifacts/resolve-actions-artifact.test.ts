/**
 * resolveActionsArtifact against the GitHub stand-in over real HTTP, with the hub's real Probot installation client:
 * the run of exactly the deployed commit, on the deployed branch, successful, newest; and each way it can be missing,
 * in words. Every request the stand-in saw (and every answer it gave) must match GitHub's published description.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveActionsArtifact } from '../../../app/artifacts/resolve-actions-artifact.js';
import type { StatusOctokit } from '../../../app/github/status-reporter.js';
import { startGitHubArtifactsRig, zipOf, type GitHubArtifactsRig } from './github-artifacts-rig.js';

let rig: GitHubArtifactsRig;
let site: Buffer;
beforeAll(async () => {
  rig = await startGitHubArtifactsRig();
  site = await zipOf({ 'index.html': '<h1>shop</h1>', 'app.js': 'console.log(1)' });
}, 60_000);
afterAll(() => rig?.close());
afterEach(() => expect(rig.github.problems()).toEqual([]));

const newSha = () => randomBytes(20).toString('hex');
const resolve = async (sha: string, more: { ref?: string; name?: string; workflow?: string } = {}) =>
  resolveActionsArtifact(await rig.installation(), { repository: 'acme/shop', sha, ref: more.ref ?? 'main', workflow: more.workflow ?? 'build.yml', name: more.name ?? 'site' });
const failure = async (promise: Promise<unknown>) => promise.then(() => expect.fail('resolved'), (err: unknown) => err as { code: string; message: string; details: Record<string, unknown> });

describe('resolveActionsArtifact', () => {
  it("resolves a successful run's artifact to its API download URL, digest and size", async () => {
    const sha = newSha();
    const { runId, artifactIds } = rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: sha, headBranch: 'main', artifacts: [{ name: 'coverage', bytes: Buffer.from('lcov') }, { name: 'site', bytes: site }] });
    const resolved = await resolve(sha, { ref: 'refs/heads/main', workflow: '.github/workflows/build.yml' });
    const hex = createHash('sha256').update(site).digest('hex');
    expect(resolved).toEqual({
      source: 'github-actions',
      name: 'site',
      url: `${rig.github.url}/api/v3/repos/acme/shop/actions/artifacts/${artifactIds[1]}/zip`,
      sha256: hex,
      size: site.length,
      runId,
      artifactId: artifactIds[1],
      described: `artifact \`site\` of build.yml run #${resolved.described.match(/#(\d+)/)![1]} for ${sha.slice(0, 7)} on main (${site.length} B, sha256:${hex.slice(0, 12)}…)`,
    });
  });

  it('takes the newest successful run: over an older success, and over a newer failure', async () => {
    const sha = newSha();
    const run = (conclusion: 'success' | 'failure', text: string) => rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: sha, headBranch: 'main', conclusion, artifacts: [{ name: 'site', bytes: Buffer.from(text) }] });
    run('success', 'old');
    const wanted = run('success', 'new');
    run('failure', 'broken');
    const resolved = await resolve(sha);
    expect(resolved.runId).toBe(wanted.runId);
    expect(resolved.sha256).toBe(createHash('sha256').update('new').digest('hex'));
  });

  it("ignores another commit's run and a run of the commit on another branch", async () => {
    const sha = newSha();
    rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: newSha(), headBranch: 'main', artifacts: [{ name: 'site', bytes: Buffer.from('other commit') }] });
    rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: sha, headBranch: 'feature', artifacts: [{ name: 'site', bytes: Buffer.from('other branch') }] });
    const err = await failure(resolve(sha));
    expect(err.message).toBe(`workflow build.yml has no successful run for ${sha.slice(0, 7)} on main — checks still running? (runs seen: none)`);
    expect(err.details.pending).toBe(true);
    const wanted = rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: sha, headBranch: 'main', artifacts: [{ name: 'site', bytes: site }] });
    rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: newSha(), headBranch: 'main', artifacts: [{ name: 'site', bytes: Buffer.from('newer, other commit') }] });
    expect((await resolve(sha)).runId).toBe(wanted.runId);
  });

  it('re-checks the commit itself, for a GitHub that ignores the `head_sha` filter (older Enterprise Servers)', async () => {
    const sha = newSha();
    const wanted = rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: sha, headBranch: 'main', artifacts: [{ name: 'site', bytes: site }] });
    rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: newSha(), headBranch: 'main', artifacts: [{ name: 'site', bytes: Buffer.from('newer, other commit') }] });
    const inner = await rig.installation();
    const ignoresHeadSha: StatusOctokit = { request: (route, { head_sha: _ignored, ...params }) => inner.request(route, params) };
    const resolved = await resolveActionsArtifact(ignoresHeadSha, { repository: 'acme/shop', sha, ref: 'main', workflow: 'build.yml', name: 'site' });
    expect(resolved.runId).toBe(wanted.runId);
  });

  it('says a run still in progress is not there yet (details.pending), and a failed one is not', async () => {
    const sha = newSha();
    rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: sha, headBranch: 'main', status: 'in_progress', artifacts: [] });
    const pending = await failure(resolve(sha));
    expect(pending).toMatchObject({ code: 'BE_ARTIFACT', details: { pending: true, runsSeen: { in_progress: 1 } } });
    expect(pending.message).toBe(`workflow build.yml has no successful run for ${sha.slice(0, 7)} on main — checks still running? (runs seen: 1 in_progress)`);

    const failed = newSha();
    rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: failed, headBranch: 'main', conclusion: 'failure' });
    const err = await failure(resolve(failed));
    expect(err.details.pending).toBe(false);
    expect(err.message).toBe(`workflow build.yml has no successful run for ${failed.slice(0, 7)} on main (runs seen: 1 failure): fix the build and re-run the workflow`);
  });

  it('names the artifacts a run has when the wanted one is missing', async () => {
    const sha = newSha();
    const { runId } = rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: sha, headBranch: 'main', artifacts: [{ name: 'app', bytes: site }, { name: 'coverage', bytes: site }] });
    const err = await failure(resolve(sha));
    expect(err.message).toBe(`run ${runId} of build.yml has no artifact named \`site\` (it has: app, coverage): use the name the workflow's upload-artifact step gives`);
    expect(err.details.pending).toBeUndefined();
  });

  it('refuses an expired artifact and one without a digest, saying what to do', async () => {
    const sha = newSha();
    const expired = rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: sha, headBranch: 'main', artifacts: [{ name: 'site', bytes: site, expired: true }] });
    expect((await failure(resolve(sha))).message).toMatch(new RegExp(`^artifact \`site\` of run ${expired.runId} expired on \\d{4}-\\d\\d-\\d\\d: re-run the workflow$`));

    const old = newSha();
    const legacy = rig.github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: old, headBranch: 'main', artifacts: [{ name: 'site', bytes: site, withoutDigest: true }] });
    expect((await failure(resolve(old))).message).toBe(`artifact \`site\` of run ${legacy.runId} has no digest (uploaded with actions/upload-artifact before v4): upload it with v4 or later`);
  });

  it('says an unknown workflow file does not exist, and what to name', async () => {
    const err = await failure(resolve(newSha(), { workflow: 'deploy.yml' }));
    expect(err).toMatchObject({ code: 'BE_ARTIFACT' });
    expect(err.message).toBe('workflow deploy.yml not found in acme/shop: name a file under .github/workflows/ (e.g. `workflow: build.yml`), and give the BitEnvoy App the `actions: read` permission');
  });
});
