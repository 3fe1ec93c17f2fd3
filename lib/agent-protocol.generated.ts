/* eslint-disable */
/**
 * GENERATED from lib/agent-protocol.schema.json (error codes from lib/errors.ts) by `npm run build && npm run generate`.
 * Do not edit by hand: change the schema and regenerate (a test fails when this file drifts from the schema).
 */

/**
 * an integer ≥ 1
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "Seq".
 */
export type Seq = number;
/**
 * an ISO 8601 time like `2025-01-31T12:00:00.000Z`
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "IsoTime".
 */
export type IsoTime = string;
/**
 * the idempotency key of the claim
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "ClaimId".
 */
export type ClaimId = string;
/**
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "Message".
 */
export type Message = string;
/**
 * one of `github-actions`, `github-release`, `oci`, `url`: where an artifact's bytes are
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "ArtifactSourceKind".
 */
export type ArtifactSourceKind = 'github-actions' | 'github-release' | 'oci' | 'url';
/**
 * States an agent may report; `pending` and `claimed` belong to the hub.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "ReportedJobState".
 */
export type ReportedJobState = 'fetching' | 'running' | 'succeeded' | 'failed' | 'refused' | 'cancelled';
/**
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "JobEvent".
 */
export type JobEvent = StateEvent | StepEvent;
/**
 * A cloud provider whose signed identity evidence the hub can verify.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "CloudProvider".
 */
export type CloudProvider = 'aws' | 'gcp' | 'azure';
/**
 * An agent's cloud identity evidence, per provider, as its instance metadata service returned it (the hub verifies it; the agent asserts nothing). GCP and Azure carry the hub nonce they were made for.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "CloudEvidence".
 */
export type CloudEvidence =
  | {
      provider: 'aws';
      document: string;
      signature: string;
    }
  | {
      provider: 'gcp';
      token: string;
      nonce: string;
    }
  | {
      provider: 'azure';
      attested: AzureAttestedData;
      nonce: string;
    };
/**
 * A stable error code of lib/errors.ts's catalog (`ERROR_CODES`); the generated type lists them all.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "ErrorCode".
 */
export type ErrorCode =
  | 'BE_BAD_REQUEST'
  | 'BE_BODY_TOO_LARGE'
  | 'BE_UNAUTHORIZED'
  | 'BE_ENROLL_TOKEN_INVALID'
  | 'BE_NOT_FOUND'
  | 'BE_JOB_CLAIMED'
  | 'BE_JOB_FINISHED'
  | 'BE_SEQ_GAP'
  | 'BE_DEPLOY_REJECTED'
  | 'BE_REPOSITORY_NOT_CONFIGURED'
  | 'BE_GUARD_RAIL'
  | 'BE_REF_NOT_FOUND'
  | 'BE_CONFIG_UNAVAILABLE'
  | 'BE_CONFIG_INVALID'
  | 'BE_INSTRUCTIONS_INVALID'
  | 'BE_NOT_ALLOWED'
  | 'BE_FORBIDDEN'
  | 'BE_GIT'
  | 'BE_CONFLICT'
  | 'BE_GITHUB_NOT_CONFIGURED'
  | 'BE_CLOUD_NOT_CONFIGURED'
  | 'BE_ATTESTATION_REFUSED'
  | 'BE_ARTIFACT'
  | 'BE_PROVENANCE'
  | 'BE_USAGE'
  | 'BE_INTERNAL'
  | 'BE_METHOD_NOT_ALLOWED'
  | 'BE_UNSUPPORTED_MEDIA_TYPE'
  | 'BE_SIGNATURE_INVALID'
  | 'BE_RATE_LIMITED'
  | 'BE_BUSY'
  | 'BE_STORE_NEWER'
  | 'BE_STORE_UNAVAILABLE'
  | 'BE_SERVICE';
/**
 * Timings the hub hands every agent at enrollment.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "AgentSettings".
 */
export interface AgentSettings {
  /**
   * how long the hub holds a long poll open, in seconds
   */
  pollWaitSeconds: number;
  /**
   * seconds after which a claimed job whose lease was not renewed fails
   */
  leaseSeconds: number;
  /**
   * an agent counts as lost after 3 of these with no request at all
   */
  heartbeatSeconds: number;
}
/**
 * Labels are `key=value` pairs; keys like Kubernetes label keys, values short strings.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "Labels".
 */
export interface Labels {
  /**
   * up to 63 letters, digits, `.`, `_`, `-`
   */
  [k: string]: string;
}
/**
 * `POST /enroll`: an agent trades a one-time enrollment token for its own credential.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "EnrollRequest".
 */
export interface EnrollRequest {
  token: string;
  /**
   * letters, digits, `.`, `_`, `-`, at most 63
   */
  name: string;
  labels: Labels;
  version: string;
}
/**
 * 201 answer to `POST /enroll`.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "EnrollResponse".
 */
export interface EnrollResponse {
  /**
   * the agent's id on the hub
   */
  agentId: string;
  /**
   * the agent's own long-lived credential; the hub keeps only its hash; it is shown once
   */
  credential: string;
  settings: AgentSettings;
  suggestedAllow?: SuggestedAllow;
}
/**
 * `allow.gitBaseUrls`, `allow.branches` and `allow.repositories` as the hub suggests them for the `agent.yml` that enrollment writes (trust on first use: the agent checks them like anything else the hub sends, and the server's owner reviews the file). Each list sorted and bounded.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "SuggestedAllow".
 */
export interface SuggestedAllow {
  /**
   * where this hub's code comes from: `<scheme>://<host>[:port]/<path up to the owner>/`, at most 50
   *
   * @maxItems 50
   */
  gitBaseUrls: string[];
  /**
   * the branches the hub's environments deploy, at most 100
   *
   * @maxItems 100
   */
  branches: string[];
  /**
   * `owner/*` of every owner whose repositories the hub deploys, at most 100 (absent from hubs before it was added)
   *
   * @maxItems 100
   */
  repositories?: string[];
}
/**
 * Short-lived, read-only credentials for one repository (a GitHub installation token with `contents: read`). Only in the claim answer, never stored by the hub, never logged.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "GitAuth".
 */
export interface GitAuth {
  /**
   * a user name of at most 256 characters
   */
  username: string;
  /**
   * a password or token of at most 8192 characters
   */
  password: string;
  /**
   * the ISO time after which the credentials no longer work
   */
  expiresAt: string;
}
/**
 * Everything an agent needs to run one job. It names code only by repository, commit and instruction file. The agent checks it against this schema (and what a schema cannot say: `..` segments, shell characters) and keeps only these fields: anything else a hub sends is dropped unread. Each field's description says what the agent expects. `rollback: true` asks for a rollback to `sha`: an agent that still keeps a release of exactly this commit may switch `current` back to it and run that release's own `rollback` steps instead of fetching and deploying again.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "JobSpec".
 */
export interface JobSpec {
  /**
   * a job id of letters, digits, `_` and `-`
   */
  id: string;
  /**
   * a deployment id of letters, digits, `_` and `-`
   */
  deploymentId: string;
  /**
   * `owner/name`
   */
  repository: string;
  /**
   * an environment name of letters, digits, `.`, `_` and `-`
   */
  environment: string;
  /**
   * a branch or tag name like `main`, without shell characters ($ ` ; | & ' " < > ( ) { } !)
   */
  ref: string;
  /**
   * a full 40-character commit SHA in lowercase hex
   */
  sha: string;
  /**
   * where the agent fetches the commit from (the application's git, never the hub)
   */
  git: {
    /**
     * an `https://`, `http://`, `ssh://`, `git://` or `file://` URL, or an absolute path
     */
    url: string;
    auth?: GitAuth;
  };
  /**
   * a relative path inside the commit, like `bitenvoy.yml` or `deploy/bitenvoy.yml`
   */
  instructions: string;
  /**
   * an ISO time
   */
  createdAt: string;
  /**
   * `true` or `false`
   */
  rollback?: boolean;
  /**
   * a list of at most 20 artifacts: those the commit's instruction file declares, as the hub resolved them when the deployment was planned
   *
   * @maxItems 20
   */
  artifacts?: JobArtifact[];
}
/**
 * One artifact of a job. The agent checks it against the commit's own declaration and its allowlist, and the bytes against their digest, before anything is unpacked.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "JobArtifact".
 */
export interface JobArtifact {
  /**
   * a name of letters, digits, `.`, `_` and `-` (the one the instruction file gives it)
   */
  name: string;
  source: ArtifactSourceKind;
  /**
   * an http(s) URL: what the agent downloads (GitHub's API download URL, or the declared URL); absent for `oci`
   */
  url?: string;
  oci?: OciPin;
  /**
   * 64 lowercase hex digits: the SHA-256 of the bytes downloaded from `url`
   */
  sha256?: string;
  /**
   * a number of bytes, when the source says
   */
  size?: number;
  /**
   * a short-lived read token for this download; only in the claim answer, never stored by the hub
   */
  token?: string;
  /**
   * Sigstore bundles found for the digest (GitHub's attestations), for agents with `requireProvenance`; the agent keeps the first 16 objects
   *
   * @maxItems 1000
   */
  attestations?: unknown[];
  /**
   * how the hub found it, for the log: "build.yml run 812, artifact site" (the agent keeps 200 characters)
   */
  described?: string;
}
/**
 * an OCI manifest pinned when the deployment was planned; the agent reads the layer's digest from it
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "OciPin".
 */
export interface OciPin {
  /**
   * a registry host like `ghcr.io`
   */
  registry: string;
  /**
   * a repository path like `acme/site`
   */
  repository: string;
  /**
   * `sha256:` and 64 hex digits
   */
  digest: string;
  /**
   * a layer title
   */
  layer?: string;
}
/**
 * 200 answer to `GET /jobs/next`.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "NextJobResponse".
 */
export interface NextJobResponse {
  job: JobSpec;
}
/**
 * `POST /jobs/:id/claim`. `claimId` is an idempotency key the agent makes up and journals before sending: a retried claim with the same key answers 200 again; any other key for a claimed job answers 409 BE_JOB_CLAIMED.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "ClaimRequest".
 */
export interface ClaimRequest {
  claimId: ClaimId;
}
/**
 * 200 answer to a claim: the job again, now with its short-lived credentials, and the lease.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "ClaimResponse".
 */
export interface ClaimResponse {
  job: JobSpec;
  lease: LeaseResponse;
}
/**
 * The lease of a claimed job.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "LeaseResponse".
 */
export interface LeaseResponse {
  /**
   * the ISO time the lease runs out unless renewed
   */
  leaseExpiresAt: string;
  /**
   * a number of seconds from 1 to 3600
   */
  leaseSeconds: number;
  /**
   * true when the hub wants the job stopped (cancelled, or the deployment failed elsewhere)
   */
  cancelRequested: boolean;
}
/**
 * `POST /jobs/:id/lease`: renews the lease of the claim.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "LeaseRequest".
 */
export interface LeaseRequest {
  claimId: ClaimId;
}
/**
 * A job's state as the agent reports it.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "StateEvent".
 */
export interface StateEvent {
  seq: Seq;
  at: IsoTime;
  type: 'state';
  state: ReportedJobState;
  message?: Message;
}
/**
 * A step of the instruction file started or ended.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "StepEvent".
 */
export interface StepEvent {
  seq: Seq;
  at: IsoTime;
  type: 'step';
  step: {
    index: number;
    name: string;
  };
  status: 'started' | 'succeeded' | 'failed' | 'timed_out';
  exitCode?: number | null;
  durationMs?: number;
  message?: Message;
}
/**
 * `POST /jobs/:id/events`: events numbered 1, 2, 3… per job with no gaps (a gap answers 409 BE_SEQ_GAP).
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "EventsRequest".
 */
export interface EventsRequest {
  claimId: ClaimId;
  /**
   * @maxItems 500
   */
  events: JobEvent[];
}
/**
 * Output of a step (or the agent's own lines), already redacted by the agent: no local secret value ever appears here. Numbered 1, 2, 3… per job, independent of event numbers.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "LogChunk".
 */
export interface LogChunk {
  seq: Seq;
  at: IsoTime;
  step?: number;
  stream: 'stdout' | 'stderr' | 'system';
  data: string;
}
/**
 * `POST /jobs/:id/logs`.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "LogsRequest".
 */
export interface LogsRequest {
  claimId: ClaimId;
  /**
   * @maxItems 500
   */
  chunks: LogChunk[];
}
/**
 * The highest sequence number the hub has stored; everything up to it may be dropped by the agent.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "AckResponse".
 */
export interface AckResponse {
  ackedSeq: number;
}
/**
 * `POST /api/v1/deployments` (admin token).
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "CreateDeploymentRequest".
 */
export interface CreateDeploymentRequest {
  /**
   * owner/name
   */
  repository: string;
  /**
   * a branch, tag or commit SHA
   */
  ref: string;
  /**
   * an environment name
   */
  environment: string;
}
/**
 * Azure IMDS attested data, exactly as `/metadata/attested/document` returns it.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "AzureAttestedData".
 */
export interface AzureAttestedData {
  encoding?: string;
  signature: string;
}
/**
 * `POST /cloud/nonce`: a single-use challenge for the agent's next cloud identity evidence.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "CloudNonceRequest".
 */
export interface CloudNonceRequest {
  provider: CloudProvider;
}
/**
 * 200 answer to `POST /cloud/nonce`.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "CloudNonceResponse".
 */
export interface CloudNonceResponse {
  nonce: string;
  expiresAt: string;
  /**
   * GCP: the exact audience to ask the metadata server's identity token for
   */
  audience?: string;
}
/**
 * `POST /cloud/attest`: the provider-signed evidence, exactly as the instance metadata service returned it. The hub verifies it and binds the agent to that instance; its `cloud.*` facts then come from discovery, never from here.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "CloudAttestRequest".
 */
export interface CloudAttestRequest {
  evidence: CloudEvidence;
}
/**
 * 200 answer to `POST /cloud/attest`.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "CloudAttestResponse".
 */
export interface CloudAttestResponse {
  identity: {
    provider: CloudProvider;
    account: string;
    instanceId: string;
    region?: string;
    zone?: string;
  };
}
/**
 * The one JSON envelope every hub error is answered with.
 *
 * This interface was referenced by `AgentProtocol`'s JSON-Schema
 * via the `definition` "ErrorEnvelope".
 */
export interface ErrorEnvelope {
  error: {
    code: ErrorCode;
    /**
     * what was wrong and how to fix it
     */
    message: string;
    /**
     * machine-readable details, safe to show (e.g. `expectedSeq`, `retryAfterSeconds`)
     */
    details?: {};
  };
}
