/**
 * The GitHub stand-in's Actions artifacts and Release assets: workflow runs with their artifacts, and releases with
 * their assets, set by the test ({@link ArtifactStandIn}), served through the REST operations GitHub documents for
 * them, from that state. Downloads answer as GitHub does: a 302 to an expiring blob URL on the stand-in itself
 * (github-stand-in-blobs.ts). GitHub's rules for a private repository apply: the installation token must name the
 * repository (else 404) and hold `actions: read` for artifacts or `contents: read` for releases (else 403, GitHub's
 * "Resource not accessible by integration"). Every answer is also checked against the response schema GitHub
 * publishes for it, into the request's `problems`.
 *
 * @example
 * const { runId } = github.addWorkflowRun('acme/shop', { workflow: 'build.yml', headSha: sha, headBranch: 'main', artifacts: [{ name: 'site', bytes }] });
 * github.addRelease('acme/shop', { tag: 'v1.0.0', assets: [{ name: 'shop-linux-amd64.tar.gz', bytes }] });
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from '../lib/package-root.js';
import { artifactShape, assetShape, releaseShape, runShape, type StoredAsset, type StoredRelease, type StoredRun } from './github-artifact-shapes.js';
import type { GitHubContract } from './github-contract.js';
import { createBlobStore, type BlobRequest } from './github-stand-in-blobs.js';

type Json = Record<string, unknown>;

export interface WorkflowRunInput {
  /** The workflow's file name under `.github/workflows/`. */
  workflow: string;
  headSha: string;
  headBranch: string;
  event?: string;
  status?: 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
  /** Set once completed; `success` by default for a completed run. */
  conclusion?: 'success' | 'failure' | 'cancelled' | 'skipped' | 'timed_out' | 'neutral' | 'action_required' | null;
  /** `withoutDigest`: uploaded with actions/upload-artifact before v4, which records none. */
  artifacts?: Array<{ name: string; bytes: Buffer; expired?: boolean; withoutDigest?: boolean }>;
}

export interface ReleaseInput {
  tag: string;
  /** `withoutDigest`: uploaded before GitHub recorded asset digests. */
  assets: Array<{ name: string; bytes: Buffer; withoutDigest?: boolean }>;
  draft?: boolean;
  prerelease?: boolean;
}

export interface ArtifactStandIn {
  /** A workflow run of `repository` with its artifacts; newer than every run added before it. */
  addWorkflowRun(repository: string, run: WorkflowRunInput): { runId: number; artifactIds: number[] };
  addRelease(repository: string, release: ReleaseInput): { releaseId: number; assetIds: number[] };
  /** A build attestation (a Sigstore bundle) of `repository` for the artifact whose SHA-256 is `sha256` (hex). */
  addAttestation(repository: string, sha256: string, bundle: unknown): void;
  /** Requests to the blob URLs downloads redirect to (whether they carried an `Authorization` header, their range). */
  blobRequests: BlobRequest[];
}

/** What the stand-in knows of an installation token (its `Token`). */
export interface TokenGrant {
  installationId: number;
  repositories?: string[];
  permissions: Record<string, string>;
  expiresAt: number;
}

export interface ArtifactSideOptions {
  url: () => string;
  tokens: ReadonlyMap<string, TokenGrant>;
  installationOf: (fullName: string) => number | undefined;
  /** The repository object GitHub embeds in runs. */
  repository: (fullName: string) => Json;
  contracts: GitHubContract[];
}

type Answer = [number, unknown, Record<string, string>?];
type Route = [RegExp, 'actions' | 'contents' | 'attestations', (params: string[], req: IncomingMessage, url: URL) => Answer];

export function createArtifactSide(options: ArtifactSideOptions) {
  const blobs = createBlobStore(options.url);
  const runs: StoredRun[] = [];
  const releases: StoredRelease[] = [];
  const attestations: Array<{ repository: string; digest: string; bundle: unknown }> = [];
  const workflowIds = new Map<string, number>();
  let nextId = 7000;
  const api = () => `${options.url()}/api/v3`;
  const key = (o: string | undefined, r: string | undefined) => `${o}/${r}`.toLowerCase();
  const notFound: Answer = [404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }];
  // The repository object of a push webhook gives times as epoch seconds; the REST API gives ISO times.
  const repository = (fullName: string): Json => {
    const r = options.repository(fullName);
    const iso = (t: unknown) => (typeof t === 'number' ? new Date(t * 1000).toISOString().replace('.000Z', 'Z') : t);
    return { ...r, created_at: iso(r.created_at), pushed_at: iso(r.pushed_at) };
  };

  const side: ArtifactStandIn = {
    blobRequests: blobs.requests,
    addWorkflowRun(repository, input) {
      const workflowKey = `${repository.toLowerCase()} ${input.workflow}`;
      if (!workflowIds.has(workflowKey)) workflowIds.set(workflowKey, nextId++);
      const status = input.status ?? 'completed';
      const run: StoredRun = {
        id: nextId++,
        repository,
        workflow: input.workflow,
        workflowId: workflowIds.get(workflowKey)!,
        runNumber: runs.filter((r) => r.workflowId === workflowIds.get(workflowKey)).length + 1,
        headSha: input.headSha,
        headBranch: input.headBranch,
        event: input.event ?? 'push',
        status,
        conclusion: status === 'completed' ? (input.conclusion ?? 'success') : null,
        // A second apart, as GitHub's timestamps are: each run is newer than the one added before it.
        createdAt: new Date(Math.floor(Date.now() / 1000) * 1000 + runs.length * 1000).toISOString().replace('.000Z', 'Z'),
        artifacts: (input.artifacts ?? []).map((a) => ({ id: nextId++, ...a })),
      };
      runs.push(run);
      return { runId: run.id, artifactIds: run.artifacts.map((a) => a.id) };
    },
    addAttestation(repository, sha256, bundle) {
      attestations.push({ repository: repository.toLowerCase(), digest: `sha256:${sha256}`, bundle });
    },
    addRelease(repository, input) {
      const release: StoredRelease = { id: nextId++, repository, ...input, createdAt: new Date().toISOString(), assets: input.assets.map((a) => ({ id: nextId++, ...a })) };
      releases.push(release);
      return { releaseId: release.id, assetIds: release.assets.map((a) => a.id) };
    },
  };

  const redirect = (bytes: Buffer): Answer => [302, undefined, { location: blobs.urlFor(bytes) }];
  const routes: Route[] = [
    [/^\/repos\/([^/]+)\/([^/]+)\/attestations\/([^/]+)$/, 'attestations', ([o, r, digest]) => {
      const found = attestations.filter((a) => a.repository === key(o, r) && a.digest === decodeURIComponent(digest!));
      return found.length ? [200, { attestations: found.map((a) => ({ bundle: a.bundle, repository_id: 1 })) }] : notFound;
    }],
    [/^\/repos\/([^/]+)\/([^/]+)\/actions\/workflows\/([^/]+)\/runs$/, 'actions', ([o, r, workflow], _req, url) => {
      const name = decodeURIComponent(workflow!);
      const id = [...workflowIds].find(([k, v]) => k.startsWith(`${key(o, r)} `) && (k.endsWith(` ${name}`) || String(v) === name))?.[1];
      if (id === undefined) return notFound;
      const q = url.searchParams;
      // Newest first, as GitHub lists them; `status` takes a status or a conclusion.
      const all = runs
        .filter((run) => run.workflowId === id)
        .filter((run) => (!q.has('head_sha') || run.headSha === q.get('head_sha')) && (!q.has('branch') || run.headBranch === q.get('branch')) && (!q.has('event') || run.event === q.get('event')))
        .filter((run) => !q.has('status') || run.status === q.get('status') || run.conclusion === q.get('status'))
        .reverse();
      return [200, { total_count: all.length, workflow_runs: page(all, url).map((run) => runShape(run, api(), repository(run.repository))) }];
    }],
    [/^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)\/artifacts$/, 'actions', ([o, r, id], _req, url) => {
      const run = runs.find((x) => x.id === Number(id) && key(o, r) === x.repository.toLowerCase());
      if (!run) return notFound;
      const name = url.searchParams.get('name');
      const all = run.artifacts.filter((a) => name === null || a.name === name).reverse();
      return [200, { total_count: all.length, artifacts: page(all, url).map((a) => artifactShape(a, run, api())) }];
    }],
    [/^\/repos\/([^/]+)\/([^/]+)\/actions\/artifacts\/(\d+)\/([^/]+)$/, 'actions', ([o, r, id, format]) => {
      const run = runs.find((x) => key(o, r) === x.repository.toLowerCase() && x.artifacts.some((a) => a.id === Number(id)));
      const artifact = run?.artifacts.find((a) => a.id === Number(id));
      if (!artifact || format !== 'zip') return notFound;
      return artifact.expired ? [410, { message: 'Artifact has expired', documentation_url: 'https://docs.github.com/rest/actions/artifacts#download-an-artifact' }] : redirect(artifact.bytes);
    }],
    [/^\/repos\/([^/]+)\/([^/]+)\/releases\/tags\/([^/]+)$/, 'contents', ([o, r, tag]) => {
      // GitHub finds only published releases by tag: a draft has no tag yet.
      const release = releases.find((x) => key(o, r) === x.repository.toLowerCase() && x.tag === decodeURIComponent(tag!) && !x.draft);
      return release ? [200, releaseShape(release, api(), repository(release.repository))] : notFound;
    }],
    [/^\/repos\/([^/]+)\/([^/]+)\/releases\/assets\/(\d+)$/, 'contents', ([o, r, id], req) => {
      const release = releases.find((x) => key(o, r) === x.repository.toLowerCase() && x.assets.some((a) => a.id === Number(id)));
      const asset: StoredAsset | undefined = release?.assets.find((a) => a.id === Number(id));
      if (!release || !asset) return notFound;
      return /application\/octet-stream/i.test(req.headers.accept ?? '') ? redirect(asset.bytes) : [200, assetShape(asset, release, api(), repository(release.repository))];
    }],
  ];

  /** Whether the request's token may read `fullName` with `permission`: GitHub's answer when it may not. */
  const refusal = (req: IncomingMessage, fullName: string, permission: string): Answer | undefined => {
    const m = /^(?:token|bearer) (\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return notFound;
    const token = options.tokens.get(m[1]!);
    if (!token || token.expiresAt < Date.now()) return [401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }];
    const name = fullName.split('/')[1]!.toLowerCase();
    if (options.installationOf(fullName) !== token.installationId || (token.repositories && !token.repositories.some((x) => x.toLowerCase() === name))) return notFound;
    const level = token.permissions[permission];
    return level === 'read' || level === 'write' ? undefined : [403, { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest' }];
  };

  return {
    api: side,
    /** Serves a blob URL; false when the request is not for one. */
    serveBlob: (req: IncomingMessage, res: ServerResponse, url: URL) => blobs.serve(req, res, url),
    /**
     * Answers an artifact or release request (`path` without `/api/v3`) and records its status and any way the answer
     * differs from GitHub's description; false when the path is none of these.
     */
    answer(req: IncomingMessage, res: ServerResponse, path: string, url: URL, record: { status: number; problems: string[] }): boolean {
      if (req.method !== 'GET') return false;
      for (const [pattern, permission, handler] of routes) {
        const m = pattern.exec(path);
        if (!m) continue;
        const [status, body, headers] = refusal(req, `${m[1]}/${m[2]}`, permission) ?? handler(m.slice(1), req, url);
        record.status = status;
        record.problems.push(...options.contracts.flatMap((c) => c.responseProblems('GET', path, status, body)));
        const text = body === undefined ? '' : JSON.stringify(body);
        res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }), 'x-github-media-type': 'github.v3', ...headers }).end(text);
        return true;
      }
      return false;
    },
  };
}

/**
 * The permissions the App's manifest (`app.yml`) asks for: what GitHub gives an installation token minted without a
 * `permissions` list, so a permission missing from the manifest fails in tests as it would on GitHub.
 */
export async function readAppPermissions(): Promise<Record<string, string>> {
  const manifest = parse(await readFile(join(packageRoot(), 'app.yml'), 'utf8')) as { default_permissions?: Record<string, string> };
  return manifest.default_permissions ?? {};
}

function page<T>(all: T[], url: URL): T[] {
  const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100);
  const n = Math.max(Number(url.searchParams.get('page') ?? 1), 1);
  return all.slice((n - 1) * perPage, n * perPage);
}
