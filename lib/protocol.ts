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
 *
 * The bodies' types are generated from the one JSON Schema of the contract, `lib/agent-protocol.schema.json` (see
 * `lib/agent-protocol.generated.ts`): the hub validates the requests it takes against it, the agent the jobs it is
 * sent. This file keeps the constants and re-exports the types under their names.
 */

export type {
  AckResponse,
  AgentSettings,
  ArtifactSourceKind,
  AzureAttestedData,
  ClaimRequest,
  ClaimResponse,
  CloudAttestRequest,
  CloudAttestResponse,
  CloudEvidence,
  CloudNonceRequest,
  CloudNonceResponse,
  CloudProvider,
  CreateDeploymentRequest,
  EnrollRequest,
  EnrollResponse,
  ErrorEnvelope,
  EventsRequest,
  GitAuth,
  JobArtifact,
  JobEvent,
  JobSpec,
  Labels,
  LeaseRequest,
  LeaseResponse,
  LogChunk,
  LogsRequest,
  NextJobResponse,
  OciPin,
  ReportedJobState,
  StateEvent,
  StepEvent,
  SuggestedAllow,
} from './agent-protocol.generated.js';
import type { ArtifactSourceKind } from './agent-protocol.generated.js';

export const AGENT_API_PREFIX = '/api/agent/v1';
/**
 * The agent's version on `GET /jobs/next`, sent until one poll was answered after the agent started: how the hub
 * learns that an agent was upgraded (`bitenvoy agent upgrade`) without another request. At most 50 characters.
 */
export const AGENT_VERSION_HEADER = 'x-bitenvoy-agent-version';
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

/** At most this many git base URLs in {@link EnrollResponse.suggestedAllow} (as `allow.gitBaseUrls` takes). */
export const MAX_SUGGESTED_GIT_BASE_URLS = 50;
/** At most this many branches in {@link EnrollResponse.suggestedAllow} (as `allow.branches` takes). */
export const MAX_SUGGESTED_BRANCHES = 100;
/** At most this many repository patterns in {@link EnrollResponse.suggestedAllow}. */
export const MAX_SUGGESTED_REPOSITORIES = 100;

/** Where an artifact's bytes are. */
export const ARTIFACT_SOURCE_KINDS = ['github-actions', 'github-release', 'oci', 'url'] as const satisfies readonly ArtifactSourceKind[];

/** Most artifacts one job carries (as many as an instruction file may declare). */
export const MAX_JOB_ARTIFACTS = 20;

export const JOB_STATES = ['pending', 'claimed', 'fetching', 'running', 'succeeded', 'failed', 'refused', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINAL_JOB_STATES: readonly JobState[] = ['succeeded', 'failed', 'refused', 'cancelled'];

export const DEPLOYMENT_STATES = ['queued', 'in_progress', 'success', 'failure', 'error', 'cancelled'] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];
export const FINAL_DEPLOYMENT_STATES: readonly DeploymentState[] = ['success', 'failure', 'error', 'cancelled'];
