/**
 * The JSON GitHub answers for workflow runs, artifacts, releases and release assets, built from the GitHub
 * stand-in's state with every field GitHub's REST description requires (the stand-in checks each answer against it).
 * Digests are the SHA-256 of the bytes, `sha256:<hex>`, as GitHub records them for artifacts uploaded with
 * actions/upload-artifact v4 and later and for release assets; null for ones stored without.
 *
 * @example
 * const body = { total_count: 1, workflow_runs: [runShape(run, `${url}/api/v3`, repoPayload('acme/shop'))] };
 */
import { createHash } from 'node:crypto';

type Json = Record<string, unknown>;

export interface StoredArtifact {
  id: number;
  name: string;
  bytes: Buffer;
  expired?: boolean;
  withoutDigest?: boolean;
}

export interface StoredRun {
  id: number;
  repository: string;
  workflow: string;
  workflowId: number;
  runNumber: number;
  headSha: string;
  headBranch: string;
  event: string;
  status: string;
  conclusion: string | null;
  createdAt: string;
  artifacts: StoredArtifact[];
}

export interface StoredAsset {
  id: number;
  name: string;
  bytes: Buffer;
  withoutDigest?: boolean;
}

export interface StoredRelease {
  id: number;
  repository: string;
  tag: string;
  draft?: boolean;
  prerelease?: boolean;
  createdAt: string;
  assets: StoredAsset[];
}

const DAY = 86_400_000;
const digestOf = (bytes: Buffer, without?: boolean) => (without ? null : `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
const nodeId = (kind: string, id: number) => Buffer.from(`${kind}${id}`).toString('base64');

export function runShape(run: StoredRun, api: string, repository: Json): Json {
  const url = `${api}/repos/${run.repository}/actions/runs/${run.id}`;
  return {
    id: run.id,
    node_id: nodeId('WorkflowRun', run.id),
    name: run.workflow.replace(/\.ya?ml$/, ''),
    head_branch: run.headBranch,
    head_sha: run.headSha,
    path: `.github/workflows/${run.workflow}`,
    display_title: `build ${run.headSha.slice(0, 7)}`,
    run_number: run.runNumber,
    run_attempt: 1,
    event: run.event,
    status: run.status,
    conclusion: run.conclusion,
    workflow_id: run.workflowId,
    url,
    html_url: `${repository.html_url as string}/actions/runs/${run.id}`,
    pull_requests: [],
    created_at: run.createdAt,
    updated_at: run.createdAt,
    run_started_at: run.createdAt,
    jobs_url: `${url}/jobs`,
    logs_url: `${url}/logs`,
    check_suite_url: `${api}/repos/${run.repository}/check-suites/${run.id}`,
    artifacts_url: `${url}/artifacts`,
    cancel_url: `${url}/cancel`,
    rerun_url: `${url}/rerun`,
    workflow_url: `${api}/repos/${run.repository}/actions/workflows/${run.workflowId}`,
    head_commit: { id: run.headSha, tree_id: run.headSha, message: 'change', timestamp: run.createdAt, author: { name: 'Testbed', email: 'testbed@example.com' }, committer: { name: 'Testbed', email: 'testbed@example.com' } },
    repository,
    head_repository: repository,
  };
}

export function artifactShape(artifact: StoredArtifact, run: StoredRun, api: string): Json {
  const url = `${api}/repos/${run.repository}/actions/artifacts/${artifact.id}`;
  const created = Date.parse(run.createdAt);
  // Expired artifacts are past their retention; the rest have GitHub's default 90 days left.
  const expires = new Date(artifact.expired ? created - DAY : created + 90 * DAY).toISOString().replace('.000Z', 'Z');
  return {
    id: artifact.id,
    node_id: nodeId('Artifact', artifact.id),
    name: artifact.name,
    size_in_bytes: artifact.bytes.length,
    url,
    archive_download_url: `${url}/zip`,
    expired: artifact.expired === true,
    created_at: run.createdAt,
    updated_at: run.createdAt,
    expires_at: expires,
    digest: digestOf(artifact.bytes, artifact.withoutDigest),
    workflow_run: { id: run.id, repository_id: 1, head_repository_id: 1, head_branch: run.headBranch, head_sha: run.headSha },
  };
}

export function assetShape(asset: StoredAsset, release: StoredRelease, api: string, repository: Json): Json {
  return {
    url: `${api}/repos/${release.repository}/releases/assets/${asset.id}`,
    browser_download_url: `${repository.html_url as string}/releases/download/${release.tag}/${asset.name}`,
    id: asset.id,
    node_id: nodeId('ReleaseAsset', asset.id),
    name: asset.name,
    label: null,
    state: 'uploaded',
    content_type: 'application/octet-stream',
    size: asset.bytes.length,
    digest: digestOf(asset.bytes, asset.withoutDigest),
    download_count: 0,
    created_at: release.createdAt,
    updated_at: release.createdAt,
    uploader: repository.owner,
  };
}

export function releaseShape(release: StoredRelease, api: string, repository: Json): Json {
  const url = `${api}/repos/${release.repository}/releases/${release.id}`;
  return {
    url,
    html_url: `${repository.html_url as string}/releases/tag/${release.tag}`,
    assets_url: `${url}/assets`,
    upload_url: `${api.replace('/api/v3', '/api/uploads')}/repos/${release.repository}/releases/${release.id}/assets{?name,label}`,
    tarball_url: `${api}/repos/${release.repository}/tarball/${release.tag}`,
    zipball_url: `${api}/repos/${release.repository}/zipball/${release.tag}`,
    id: release.id,
    node_id: nodeId('Release', release.id),
    tag_name: release.tag,
    target_commitish: 'main',
    name: release.tag,
    body: null,
    draft: release.draft === true,
    prerelease: release.prerelease === true,
    created_at: release.createdAt,
    published_at: release.draft ? null : release.createdAt,
    author: repository.owner,
    assets: release.assets.map((a) => assetShape(a, release, api, repository)),
  };
}
