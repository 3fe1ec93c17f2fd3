/**
 * Plan time, on the hub: finds the GitHub Actions artifact an instruction file names (a workflow file and an artifact
 * name) for exactly the commit being deployed — the newest successful run of that workflow whose head is that commit,
 * on the deployed branch — and pins it by the digest GitHub recorded at upload. The hub never downloads it: the agent
 * does, from `url`, with a token minted at claim time (artifact-token.ts).
 *
 * A commit whose run has not started or not finished yet is "not there yet", not an error of the user's: the error
 * then carries `details.pending: true`, so auto-deploy can wait for the artifact as for a required check.
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { StatusOctokit } from '../github/status-reporter.js';
import { describeSize, readGitHub, sha256Of, splitRepository, type ResolvedGitHubArtifact } from './github-artifact-errors.js';

export interface ActionsArtifactWanted {
  /** `owner/name`. */
  repository: string;
  /** The deployed commit (40 hex). */
  sha: string;
  /** The deployed ref (`main`, `refs/heads/main`, a tag); the run must be on it. A commit SHA as ref checks no branch. */
  ref?: string;
  /** The workflow's file name (`build.yml`, or `.github/workflows/build.yml`). */
  workflow: string;
  /** The artifact's name, as the workflow's upload-artifact step gave it. */
  name: string;
}

export interface ResolvedActionsArtifact extends ResolvedGitHubArtifact {
  source: 'github-actions';
  runId: number;
  artifactId: number;
}

interface Run {
  id: number;
  run_number: number;
  head_sha: string;
  head_branch: string | null;
  status: string | null;
  conclusion: string | null;
  created_at: string;
}

interface Artifact {
  id: number;
  name: string;
  size_in_bytes: number;
  archive_download_url: string;
  expired: boolean;
  expires_at: string | null;
  digest?: string | null;
}

/**
 * @example
 * const artifact = await resolveActionsArtifact(await probot.auth(installationId), { repository: 'acme/shop', sha, ref: 'main', workflow: 'build.yml', name: 'site' });
 * artifact.sha256; // what the agent checks the downloaded zip against
 */
export async function resolveActionsArtifact(octokit: StatusOctokit, want: ActionsArtifactWanted): Promise<ResolvedActionsArtifact> {
  const { owner, repo } = splitRepository(want.repository);
  const workflow = want.workflow.replace(/^\.github\/workflows\//, '');
  // A run's head_branch is the branch (or, for a tag push, the tag) it ran for.
  const branch = want.ref === undefined || /^[0-9a-f]{40}$/.test(want.ref) ? undefined : want.ref.replace(/^refs\/(heads|tags)\//, '');
  const short = want.sha.slice(0, 7);
  const permission = { permission: 'actions: read', repository: want.repository };
  // Every run of one commit on one branch fits on a page; none is left out by the status, so the message can say
  // what was seen.
  const listed = await readGitHub<{ workflow_runs: Run[] }>(
    () => octokit.request('GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs', { owner, repo, workflow_id: workflow, head_sha: want.sha, ...(branch ? { branch } : {}), per_page: 100 }),
    { ...permission, notFound: `workflow ${workflow} not found in ${want.repository}: name a file under .github/workflows/ (e.g. \`workflow: build.yml\`), and give the BitEnvoy App the \`actions: read\` permission` },
  );
  const runs = listed.workflow_runs
    .filter((r) => r.head_sha === want.sha && (branch === undefined || r.head_branch === branch))
    .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id);
  const run = runs.find((r) => r.status === 'completed' && r.conclusion === 'success');
  if (!run) throw noSuccessfulRun(want, workflow, branch, runs);

  const where = `run ${run.id} of ${workflow}`;
  const artifacts = async (name?: string) =>
    (
      await readGitHub<{ artifacts: Artifact[] }>(
        () => octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts', { owner, repo, run_id: run.id, ...(name ? { name } : {}), per_page: 100 }),
        { ...permission, notFound: `${where} is gone from ${want.repository} (deleted while BitEnvoy read it?): deploy again` },
      )
    ).artifacts;
  // Newest first; a live one before an expired one of the same name (runs before upload-artifact v4 allowed both).
  const named = (await artifacts(want.name)).filter((a) => a.name === want.name).sort((a, b) => Number(a.expired) - Number(b.expired) || b.id - a.id);
  const artifact = named[0];
  if (!artifact) {
    const names = [...new Set((await artifacts()).map((a) => a.name))].sort();
    throw new BitEnvoyError('BE_ARTIFACT', `${where} has no artifact named \`${want.name}\` (it has: ${names.join(', ') || 'none'}): use the name the workflow's upload-artifact step gives`, {
      details: { repository: want.repository, runId: run.id, artifacts: names },
    });
  }
  if (artifact.expired) {
    throw new BitEnvoyError('BE_ARTIFACT', `artifact \`${want.name}\` of run ${run.id} expired on ${artifact.expires_at?.slice(0, 10) ?? 'an unknown date'}: re-run the workflow`, {
      details: { repository: want.repository, runId: run.id, artifactId: artifact.id },
    });
  }
  const sha256 = sha256Of(artifact.digest);
  if (!sha256) {
    throw new BitEnvoyError(
      'BE_ARTIFACT',
      `artifact \`${want.name}\` of run ${run.id} has no digest (uploaded with actions/upload-artifact before v4): upload it with v4 or later`,
      { details: { repository: want.repository, runId: run.id, artifactId: artifact.id } },
    );
  }
  return {
    source: 'github-actions',
    name: artifact.name,
    url: artifact.archive_download_url,
    sha256,
    size: artifact.size_in_bytes,
    runId: run.id,
    artifactId: artifact.id,
    described: `artifact \`${artifact.name}\` of ${workflow} run #${run.run_number} for ${short}${branch ? ` on ${branch}` : ''} (${describeSize(artifact.size_in_bytes)}, sha256:${sha256.slice(0, 12)}…)`,
  };
}

/** Why no run qualifies, and whether waiting can help: a run not started or not finished yet may still succeed. */
function noSuccessfulRun(want: ActionsArtifactWanted, workflow: string, branch: string | undefined, runs: Run[]): BitEnvoyError {
  const seen = new Map<string, number>();
  for (const r of runs) seen.set(r.conclusion ?? r.status ?? 'unknown', (seen.get(r.conclusion ?? r.status ?? 'unknown') ?? 0) + 1);
  const summary = [...seen].map(([state, n]) => `${n} ${state}`).join(', ') || 'none';
  const pending = runs.length === 0 || runs.some((r) => r.status !== 'completed');
  const head = `workflow ${workflow} has no successful run for ${want.sha.slice(0, 7)}${branch ? ` on ${branch}` : ''}`;
  const message = pending ? `${head} — checks still running? (runs seen: ${summary})` : `${head} (runs seen: ${summary}): fix the build and re-run the workflow`;
  return new BitEnvoyError('BE_ARTIFACT', message, { details: { repository: want.repository, workflow, sha: want.sha, pending, runsSeen: Object.fromEntries(seen) } });
}
