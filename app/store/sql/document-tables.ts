/**
 * Where each kind of record lives. A record stays one JSON document (its shape is app/model.ts), but each kind has
 * its own table with the columns its queries need, derived from the document on every write and indexed, so
 * "pending jobs of agent A", "leases due before T" or "page of deployments before cursor C" read an index instead
 * of every record.
 *
 * Keys keep their old spelling (`job:<id>`, see `keys` in app/model.ts): the store routes a key to the table whose
 * prefix it starts with; every other key lives in the `kv` table (keyv: short-lived keyed data with expiry).
 */
import { FINAL_JOB_STATES, type JobState } from '../../../lib/protocol.js';
import type { SqlValue } from './sql-database.js';

export interface DocumentTable {
  /** Key prefix routed to this table, e.g. `job:`. */
  prefix: string;
  table: string;
  /**
   * A large field kept out of the document in its own column (`<field>` and `<field>_rev`), written only when it
   * changes and parsed once per process: a deployment's plan lists every server, while the rest of the record is a
   * few hundred bytes that change at every step.
   */
  detached?: string;
  /** Derived columns, in order, computed from the document (and its key) on every write. */
  columns: Record<string, (doc: Doc, key: string, json: string) => SqlValue>;
  /**
   * A field whose column is the truth, written on its own without the document (an agent's heartbeat: 200 a second
   * with 10,000 agents, each rewriting a whole document otherwise); every read puts the column's value in the record.
   */
  overlay?: { field: string; column: string };
}

/** A stored document, read loosely: derived columns tolerate records of older hubs and partial test records. */
type Doc = Record<string, unknown> & { spec?: Record<string, unknown> };

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const integer = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

const FINAL_DEPLOYMENT = ['success', 'failure', 'error', 'cancelled'];
const HELD: JobState[] = ['claimed', 'fetching', 'running'];

/** Not final, or failed with an automatic rollback still to start (the engine starts it, even after a restart). */
function isActiveDeployment(doc: Doc): number {
  if (typeof doc.state !== 'string') return 0;
  if (!FINAL_DEPLOYMENT.includes(doc.state)) return 1;
  const rollback = doc.autoRollback as { deploymentId?: string; startedAt?: string } | undefined;
  return rollback?.deploymentId && !rollback.startedAt ? 1 : 0;
}

export const DEPLOYMENTS: DocumentTable = {
  prefix: 'deployment:',
  table: 'deployments',
  detached: 'batches',
  columns: {
    repository: (d) => text(d.repository),
    environment: (d) => text(d.environment),
    state: (d) => text(d.state),
    sha: (d) => text(d.sha),
    created_at: (d) => text(d.createdAt),
    finished_at: (d) => text(d.finishedAt),
    active: (d) => isActiveDeployment(d),
    /**
     * The GitHub outbox: a GitHub deployment whose latest state GitHub has not been seen to take. Written with the
     * state change itself (one row), cleared when the status reporter records GitHub's answer.
     */
    github_unreported: (d) => (d.github && (!FINAL_DEPLOYMENT.includes(d.state as string) || (d.githubReported as { state?: string } | undefined)?.state !== d.state) ? 1 : 0),
  },
};

export const JOBS: DocumentTable = {
  prefix: 'job:',
  table: 'jobs',
  columns: {
    deployment_id: (d) => text(d.spec?.deploymentId),
    agent_id: (d) => text(d.agentId),
    batch: (d) => integer(d.batch),
    state: (d) => text(d.state),
    created_at: (d) => text(d.spec?.createdAt),
    finished_at: (d) => text(d.finishedAt),
    /** Only held jobs have a lease that matters: the lease check reads due ones from a partial index. */
    lease_expires_at: (d) => (HELD.includes(d.state as JobState) ? text(d.leaseExpiresAt) : null),
  },
};

export const AGENTS: DocumentTable = {
  prefix: 'agent:',
  table: 'agents',
  overlay: { field: 'lastSeenAt', column: 'last_seen_at' },
  columns: {
    name: (d) => text(d.name),
    credential_hash: (d) => text(d.credentialHash),
    last_seen_at: (d) => text(d.lastSeenAt),
  },
};

export const AUDIT: DocumentTable = {
  prefix: 'audit:',
  table: 'audit_entries',
  columns: {
    at: (d) => text(d.at),
    repository: (d) => text(d.repository),
  },
};

export const LOGS: DocumentTable = {
  prefix: 'log:',
  table: 'log_entries',
  columns: {
    /** `log:<jobId>:<entry>`: the job id is in the key. */
    job_id: (_d, key) => key.slice('log:'.length, key.lastIndexOf(':')),
    /** What the entry costs in the file, for the log byte budget. */
    bytes: (_d, _key, json) => json.length,
  },
};

export const DOCUMENT_TABLES: readonly DocumentTable[] = [DEPLOYMENTS, JOBS, AGENTS, AUDIT, LOGS];

/** The table a key belongs to, or undefined for the kv table. `agent:` never matches `agent-name:` (a dash). */
export function tableOf(key: string): DocumentTable | undefined {
  return DOCUMENT_TABLES.find((t) => key.startsWith(t.prefix));
}

export function isFinalJobState(state: unknown): boolean {
  return FINAL_JOB_STATES.includes(state as JobState);
}
