/**
 * The agent API wire contract, version 1: the only thing the hub and the agent share.
 *
 * Every route lives under {@link AGENT_API_PREFIX}. Bodies are JSON (at most {@link MAX_AGENT_BODY_BYTES});
 * every route but enrollment needs `Authorization: Bearer <agent credential>`. Errors come back as
 * `{ error: { code, message, details? } }` (see `lib/errors.ts`).
 *
 * | route                         | body                 | answer                                          |
 * |-------------------------------|----------------------|-------------------------------------------------|
 * | POST /enroll                  | {@link EnrollRequest}| 201 {@link EnrollResponse}                      |
 * | GET  /jobs/next?wait=<s≤50>   | –                    | 200 {@link NextJobResponse} or 204 (no job)     |
 * | POST /jobs/:id/claim          | {@link ClaimRequest} | 200 {@link ClaimResponse}; 409 claimed elsewhere |
 * | POST /jobs/:id/lease          | {@link LeaseRequest} | 200 {@link LeaseResponse}; 409 job finished     |
 * | POST /jobs/:id/events         | {@link EventsRequest}| 200 {@link AckResponse}; 409 BE_SEQ_GAP          |
 * | POST /jobs/:id/logs           | {@link LogsRequest}  | 200 {@link AckResponse}; 409 BE_SEQ_GAP          |
 * | POST /cloud/nonce             | {@link CloudNonceRequest} | 200 {@link CloudNonceResponse}              |
 * | POST /cloud/attest            | {@link CloudAttestRequest}| 200 {@link CloudAttestResponse}; 403/409 refused |
 *
 * Events and log chunks are rate-limited per agent: over the limit the hub answers 429 `BE_RATE_LIMITED` with a
 * `Retry-After` header (seconds) and `details.retryAfterSeconds`; the agent waits that long and sends the same batch
 * again (sequence numbers make that harmless).
 *
 * Any authenticated request counts as the agent's heartbeat. A job id the agent does not own answers 404, exactly
 * like a job that does not exist.
 */

export const AGENT_API_PREFIX = '/api/agent/v1';
export const ADMIN_API_PREFIX = '/api/v1';

/** Bodies larger than this are refused with 413 BE_BODY_TOO_LARGE. */
export const MAX_AGENT_BODY_BYTES = 1024 * 1024;
/** The longest a `GET /jobs/next` is held open. */
export const MAX_POLL_WAIT_SECONDS = 50;
/** Most events or log chunks in one request. */
export const MAX_BATCH_ITEMS = 500;
/** Longest `data` of one log chunk (characters). */
export const MAX_LOG_CHUNK_CHARS = 64 * 1024;

/** Defaults the hub hands every agent at enrollment and with each claim. */
export const DEFAULT_SETTINGS = {
  /** How long the hub holds a long poll open. */
  pollWaitSeconds: 50,
  /** A claimed job fails when its lease is not renewed for this long. */
  leaseSeconds: 60,
  /** An agent counts as lost after 3 heartbeat intervals with no request at all. */
  heartbeatSeconds: 60,
} as const;

export interface AgentSettings {
  pollWaitSeconds: number;
  leaseSeconds: number;
  heartbeatSeconds: number;
}

/** Labels are `key=value` pairs; keys like Kubernetes label keys, values short strings. */
export type Labels = Record<string, string>;

export interface EnrollRequest {
  /** The one-time enrollment token from `bitenvoy hub token create`. */
  token: string;
  /** A human name for the server, unique per hub (e.g. its hostname). */
  name: string;
  labels: Labels;
  /** The agent's BitEnvoy version. */
  version: string;
}

export interface EnrollResponse {
  agentId: string;
  /** The agent's own long-lived credential. The hub keeps only its hash; it is shown once. */
  credential: string;
  settings: AgentSettings;
  /**
   * What the hub suggests the agent pin in the `agent.yml` that enrollment writes: where this hub's code comes from
   * (`<scheme>://<host>[:port]/<path up to the owner>/`) and the branches its environments deploy, each list sorted
   * and bounded ({@link MAX_SUGGESTED_GIT_BASE_URLS}, {@link MAX_SUGGESTED_BRANCHES}). Trust on first use: the agent
   * checks it like anything else the hub sends, and the server's owner reviews the file it wrote.
   */
  suggestedAllow?: SuggestedAllow;
}

/** `allow.gitBaseUrls` and `allow.branches` as the hub suggests them (see {@link EnrollResponse.suggestedAllow}). */
export interface SuggestedAllow {
  gitBaseUrls: string[];
  branches: string[];
  /**
   * `owner/*` of every owner whose repositories the hub deploys: without it a tampered hub could send any repository
   * of an allowed git host (any public one on github.com). Absent from hubs before it was added.
   */
  repositories?: string[];
}

/** At most this many git base URLs in {@link EnrollResponse.suggestedAllow} (as `allow.gitBaseUrls` takes). */
export const MAX_SUGGESTED_GIT_BASE_URLS = 50;
/** At most this many branches in {@link EnrollResponse.suggestedAllow} (as `allow.branches` takes). */
export const MAX_SUGGESTED_BRANCHES = 100;
/** At most this many repository patterns in {@link EnrollResponse.suggestedAllow}. */
export const MAX_SUGGESTED_REPOSITORIES = 100;

/** Everything an agent needs to run one job. It names code only by repository, commit and instruction file. */
export interface JobSpec {
  id: string;
  deploymentId: string;
  repository: string;
  environment: string;
  ref: string;
  /** Full 40-character commit SHA; the agent checks that what it fetched is exactly this. */
  sha: string;
  git: {
    /** Where the agent fetches the commit from (the application's git, never the hub). */
    url: string;
    /**
     * Short-lived credentials for that one repository, read-only (a GitHub installation token limited to the
     * repository with `contents: read`). Only in the claim answer, never stored by the hub, never logged.
     */
    auth?: GitAuth;
  };
  /** Path of the instruction file inside the commit, e.g. `bitenvoy.yml`. */
  instructions: string;
  createdAt: string;
  /**
   * A rollback to `sha`: an agent that still keeps a release of exactly this commit may switch `current` back to it
   * and run that release's own `rollback` steps instead of fetching and deploying again. Names no command either.
   */
  rollback?: boolean;
  /**
   * The artifacts the commit's instruction file declares, as the hub resolved them when the deployment was planned
   * (a tag pinned to a digest, the Actions run of exactly this commit). The agent checks each against the commit's
   * own declaration and its allowlist, and the bytes against their digest, before anything is unpacked.
   */
  artifacts?: JobArtifact[];
}

/** Where an artifact's bytes are. */
export const ARTIFACT_SOURCE_KINDS = ['github-actions', 'github-release', 'oci', 'url'] as const;
export type ArtifactSourceKind = (typeof ARTIFACT_SOURCE_KINDS)[number];

/** Most artifacts one job carries (as many as an instruction file may declare). */
export const MAX_JOB_ARTIFACTS = 20;

export interface JobArtifact {
  /** The name the instruction file gives it. */
  name: string;
  source: ArtifactSourceKind;
  /**
   * What the agent downloads: for `github-actions` and `github-release` GitHub's API download URL (it redirects to
   * the bytes), for `url` the declared URL. Absent for `oci`.
   */
  url?: string;
  /** `oci`: the manifest pinned when the deployment was planned; the agent reads the layer's digest from it. */
  oci?: { registry: string; repository: string; digest: string; layer?: string };
  /** SHA-256 of the bytes downloaded from `url`, 64 lowercase hex digits (`url`: the declared one). */
  sha256?: string;
  /** Their size in bytes, when the source says. */
  size?: number;
  /** A short-lived read token for this download; only in the claim answer, never stored by the hub. */
  token?: string;
  /** Sigstore bundles found for the digest (GitHub's attestations), for agents with `requireProvenance`. */
  attestations?: unknown[];
  /** How the hub found it, for the log: "build.yml run 812, artifact site". */
  described?: string;
}

export interface GitAuth {
  username: string;
  password: string;
  /** ISO time after which the credentials no longer work. */
  expiresAt: string;
}

export interface NextJobResponse {
  job: JobSpec;
}

export interface ClaimRequest {
  /**
   * An idempotency key the agent makes up and journals before sending. A retried claim with the same key answers
   * 200 again; any other key for a claimed job answers 409 BE_JOB_CLAIMED.
   */
  claimId: string;
}

export interface ClaimResponse {
  job: JobSpec;
  lease: LeaseResponse;
}

export interface LeaseRequest {
  claimId: string;
}

export interface LeaseResponse {
  /** ISO time the lease runs out unless renewed. */
  leaseExpiresAt: string;
  leaseSeconds: number;
  /** The hub wants the job stopped (cancelled, or the deployment failed elsewhere). */
  cancelRequested: boolean;
}

export const JOB_STATES = ['pending', 'claimed', 'fetching', 'running', 'succeeded', 'failed', 'refused', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINAL_JOB_STATES: readonly JobState[] = ['succeeded', 'failed', 'refused', 'cancelled'];

/** States an agent may report; `pending` and `claimed` belong to the hub. */
export type ReportedJobState = 'fetching' | 'running' | 'succeeded' | 'failed' | 'refused' | 'cancelled';

export interface StateEvent {
  /** 1, 2, 3… per job, no gaps. */
  seq: number;
  /** ISO time on the agent. */
  at: string;
  type: 'state';
  state: ReportedJobState;
  /** Why: for `failed`, `refused`, `cancelled` a sentence a person understands. */
  message?: string;
}

export interface StepEvent {
  seq: number;
  at: string;
  type: 'step';
  /** 0-based index into the instruction file's steps, and the step's name. */
  step: { index: number; name: string };
  status: 'started' | 'succeeded' | 'failed' | 'timed_out';
  exitCode?: number | null;
  durationMs?: number;
  message?: string;
}

export type JobEvent = StateEvent | StepEvent;

export interface EventsRequest {
  claimId: string;
  events: JobEvent[];
}

export interface LogChunk {
  /** 1, 2, 3… per job, no gaps, independent of event sequence numbers. */
  seq: number;
  at: string;
  /** Index of the step that printed it; absent for the agent's own lines (fetching, checkout…). */
  step?: number;
  stream: 'stdout' | 'stderr' | 'system';
  /** Already redacted by the agent: no local secret value ever appears here. */
  data: string;
}

export interface LogsRequest {
  claimId: string;
  chunks: LogChunk[];
}

/** The highest sequence number the hub has stored; everything up to it may be dropped by the agent. */
export interface AckResponse {
  ackedSeq: number;
}

/** `POST /api/v1/deployments` (admin token). */
export interface CreateDeploymentRequest {
  repository: string;
  ref: string;
  environment: string;
}

export const DEPLOYMENT_STATES = ['queued', 'in_progress', 'success', 'failure', 'error', 'cancelled'] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];
export const FINAL_DEPLOYMENT_STATES: readonly DeploymentState[] = ['success', 'failure', 'error', 'cancelled'];

/** A cloud provider whose signed identity evidence the hub can verify. */
export type CloudProvider = 'aws' | 'gcp' | 'azure';

/** Azure IMDS attested data, exactly as `/metadata/attested/document` returns it. */
export interface AzureAttestedData {
  encoding?: string;
  /** Base64 of the PKCS#7 SignedData envelope. */
  signature: string;
}

/**
 * An agent's cloud identity evidence, per provider, as its instance metadata service returned it (the hub verifies
 * it; the agent asserts nothing). GCP and Azure carry the hub nonce they were made for.
 */
export type CloudEvidence =
  | { provider: 'aws'; document: string; signature: string }
  | { provider: 'gcp'; token: string; nonce: string }
  | { provider: 'azure'; attested: AzureAttestedData; nonce: string };

/** `POST /cloud/nonce`: a single-use challenge for the agent's next cloud identity evidence. */
export interface CloudNonceRequest {
  provider: CloudProvider;
}

export interface CloudNonceResponse {
  nonce: string;
  expiresAt: string;
  /** GCP: the exact audience to ask the metadata server's identity token for. */
  audience?: string;
}

/**
 * `POST /cloud/attest`: the provider-signed evidence, exactly as the instance metadata service returned it. The hub
 * verifies it and binds the agent to that instance; its `cloud.*` facts then come from discovery, never from here.
 */
export interface CloudAttestRequest {
  evidence: CloudEvidence;
}

export interface CloudAttestResponse {
  identity: { provider: CloudProvider; account: string; instanceId: string; region?: string; zone?: string };
}
