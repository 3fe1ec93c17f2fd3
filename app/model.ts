/**
 * What the hub keeps in its store. Every record is plain JSON so it survives a restart and works on any store
 * backend. Keys (see {@link keys}) are namespaced strings; ids are short random strings with a type prefix
 * (`ag_…`, `dep_…`, `job_…`).
 */
import type { DeploymentState, JobArtifact, JobEvent, JobSpec, JobState, Labels } from '../lib/protocol.js';

export interface AgentRecord {
  id: string;
  name: string;
  labels: Labels;
  version: string;
  /** sha256 (hex) of the agent's credential; the credential itself is never stored. */
  credentialHash: string;
  enrolledAt: string;
  /** Time of the agent's last authenticated request (its heartbeat). */
  lastSeenAt: string;
}

export interface EnrollTokenRecord {
  /** sha256 (hex) of the token. */
  hash: string;
  createdAt: string;
  expiresAt: string;
  /** Set when an agent used it; a used token never works again. */
  usedAt?: string;
  usedBy?: string;
  /** Who made it, for the audit trail (e.g. `cli`, `api`). */
  createdBy: string;
}

export interface JobRecord {
  spec: JobSpec;
  agentId: string;
  /** Which batch of the deployment's plan this job belongs to (0-based). */
  batch: number;
  state: JobState;
  /** The agent's idempotency key for its claim. */
  claimId?: string;
  claimedAt?: string;
  leaseExpiresAt?: string;
  finishedAt?: string;
  /** The current or last step, for the status page. */
  step?: { index: number; name: string; status: string };
  /** A sentence for people: why it failed, was refused or cancelled. */
  message?: string;
  cancelRequested?: boolean;
  /**
   * When the hub gave the job up because its lease ran out. An end reported after that is still recorded as what
   * happened ("web-7 succeeded 40 s after its lease ran out").
   */
  lostAt?: string;
  /** Highest contiguous event / log chunk sequence number stored. */
  eventsAckedSeq: number;
  logsAckedSeq: number;
  /** The events themselves, in order (bounded: the agent sends few). */
  events: JobEvent[];
  /** Bytes of log data stored for this job (the hub keeps only the newest ~2 MiB). */
  logBytes?: number;
  /**
   * The job's log is stored as numbered entries (`keys.logEntry`), each holding one or more consecutive chunks
   * (small chunks of one stream and step are joined): these are the numbers of the oldest and newest entry. An
   * entry number is not a chunk sequence number — `logsAckedSeq` is what was acknowledged. Absent on jobs of hubs
   * before entries, where the entry number was the chunk's seq (see job-logs.ts).
   */
  logFirstEntry?: number;
  logLastEntry?: number;
  /** Hubs before entries: sequence number of the oldest log chunk still stored. */
  logFirstSeq?: number;
  /** How many of the oldest log chunks were dropped to stay within the bounds. */
  logsDropped?: number;
}

export interface PlannedBatch {
  /** Agent ids in this batch, in start order. */
  agentIds: string[];
  /** After this batch ends well: wait this many milliseconds, or until someone continues the rollout. */
  pauseAfter?: number | 'manual';
}

/** The failure policy and deadline a rollout got when it was planned. */
export interface RolloutPolicy {
  /** Failed servers allowed before no new server starts (and the rollout fails). */
  maxFailures: number;
  /** How long the whole rollout may take, from its first batch. */
  timeoutMs?: number;
  /** When the whole rollout must have ended: set when its first batch starts (not while it waits its turn). */
  deadline?: string;
  /** On breach or timeout, deploy the last good commit again to the servers that moved (`onFailure: rollback`). */
  onFailure?: 'rollback';
}

/**
 * What a failed rollout with `onFailure: rollback` did about it: the rollback deployment it planned (its id chosen
 * when the failure was recorded, so a hub restarted in between starts that one and no other), or why there was none.
 */
export type AutoRollback =
  | {
      deploymentId: string;
      /** The last commit that succeeded in the environment, and the deployment that shipped it. */
      sha: string;
      lastGood: string;
      /** The servers that had started the failed commit. */
      agentIds: string[];
      /** Set once the rollback deployment exists (or could not be made: `error`). */
      startedAt?: string;
      error?: string;
    }
  | { skipped: string };

/** A rollout held between batches: until a time, or until someone continues it. */
export interface RolloutGate {
  afterBatch: number;
  until?: string;
  manual?: boolean;
  since: string;
}

export interface DeploymentRecord {
  id: string;
  repository: string;
  environment: string;
  ref: string;
  sha: string;
  state: DeploymentState;
  /** A sentence for people, ≤ 140 characters (it becomes a GitHub status description later). */
  description: string;
  strategy: string;
  group: string;
  /** SHA of the config repo commit this deployment was planned with. */
  configSha: string;
  batches: PlannedBatch[];
  /** Index of the batch whose jobs exist and run; -1 before the first. */
  currentBatch: number;
  /** Agents that matched the group but were left out, and why (e.g. lost since …). */
  skipped: Array<{ agentId: string; name: string; reason: string }>;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  environmentUrl?: string;
  /** The GitHub Deployment this rollout executes, when it came from GitHub. */
  github?: GitHubDeploymentLink;
  policy?: RolloutPolicy;
  /** Someone asked to stop it: no new server starts, running steps are stopped, it ends `cancelled`. */
  cancelRequested?: { by: string; at: string };
  /** Set while the rollout waits between batches. */
  gate?: RolloutGate;
  /** Batches whose pause was already served or released. */
  gatesPassed?: number[];
  /**
   * Servers whose job waits while their agent has not been seen, said for people ("web-1 not seen since 10:00:05 UTC
   * (lost after 180 s)"); set and cleared by the lease check, shown in the description.
   */
  unseen?: string;
  /** Queued behind this deployment, the active one of the same environment: nothing runs until it ends. */
  waitingFor?: string;
  /** Deployed with `--force` past red checks: said in its status and the audit log. */
  forced?: boolean;
  /** What asked for it, when a BitEnvoy-made GitHub Deployment said so (auto-deploy, a PR command, the API, a rollback). */
  trigger?: DeploymentTrigger;
  /**
   * The commit's title (first line of its message) and author, read when the deployment was planned; absent when
   * that lookup failed or timed out, and on deployments recorded before the hub read them.
   */
  commit?: { title: string; author: string; at?: string };
  /**
   * The artifacts the commit's instruction file declares, resolved when the deployment was planned (tags pinned to
   * digests, the Actions run found): every job of the rollout gets exactly these. Never holds a download token.
   */
  artifacts?: JobArtifact[];
  /** Where agents fetch the code and which instruction file they run, fixed when the deployment was planned. */
  gitUrl?: string;
  instructions?: string;
  /** Set on a failed rollout whose strategy says `onFailure: rollback`. */
  autoRollback?: AutoRollback;
  /**
   * This deployment brings back an earlier commit: an automatic rollback of the failed deployment named here, or a
   * `/rollback` away from it. Its jobs tell agents they may restore a kept release instead of a full deploy.
   */
  rollbackOf?: string;
  /**
   * Set once GitHub has taken this deployment's final status (by the status reporter, which writes only this field).
   * A GitHub deployment in a final state without it, or with another state here, is still owed its final status.
   */
  githubReported?: { state: DeploymentState; at: string };
}

export interface GitHubDeploymentLink {
  installationId: number;
  owner: string;
  repo: string;
  deploymentId: number;
  /** The repository's HTTPS clone URL as GitHub gave it (so GitHub Enterprise works). */
  cloneUrl: string;
}

/** What started a deployment (the `trigger` label of the hub's metrics). */
export type DeploymentTrigger = 'auto' | 'command' | 'api' | 'rollback' | 'dashboard' | 'cli' | 'github' | 'other';

/** Key builders: the only place key strings are spelled. */
export const keys = {
  agent: (id: string) => `agent:${id}`,
  agentByName: (name: string) => `agent-name:${name}`,
  enrollToken: (hash: string) => `enroll-token:${hash}`,
  deployment: (id: string) => `deployment:${id}`,
  job: (id: string) => `job:${id}`,
  /** One key per log entry (see JobRecord.logFirstEntry); zero-padded so a prefix listing comes back in order. */
  logEntry: (jobId: string, entry: number) => `log:${jobId}:${String(entry).padStart(9, '0')}`,
  logPrefix: (jobId: string) => `log:${jobId}:`,
  /** A status-page sign-in session, by the sha256 of its cookie value (the value itself is never stored). */
  dashboardSession: (idHash: string) => `dashboard-session:${idHash}`,
  /** A named local operator (`bitenvoy hub user create NAME`). */
  operator: (name: string) => `operator:${name}`,
  operatorPrefix: 'operator:',
  /** An operator's one-time sign-in link, by the sha256 of its token. */
  operatorLink: (tokenHash: string) => `operator-link:${tokenHash}`,
  /** A Sign in with GitHub attempt in flight, by the sha256 of its `state`. */
  signInState: (stateHash: string) => `sign-in-state:${stateHash}`,
} as const;
