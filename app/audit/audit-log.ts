/**
 * The audit log: every action people and the hub take on environments — who, what, which commit, which
 * environment, and the outcome — kept in the store in time order and exported with `bitenvoy audit`.
 *
 * @example
 * await recordAudit(store, { actor: 'octocat', action: 'deploy', repository: 'acme/shop', environment: 'production', sha, outcome: 'started' });
 */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';

export interface AuditEntry {
  at: string;
  /**
   * A GitHub login, `auto` for auto-deploys, `api` for the admin API, `dashboard` for the status page's buttons (signed
   * in with the shared admin token, so it names no person).
   */
  actor: string;
  action: 'deploy' | 'rollback' | 'lock' | 'unlock' | 'continue' | 'cancel' | 'auto-deploy' | 'status' | 'help' | 'refused';
  repository: string;
  environment?: string;
  sha?: string;
  /** `started`, `refused`, `locked`, `unlocked`, `skipped`, `planned` … */
  outcome: string;
  detail?: string;
  /** The rollout, when one was started. */
  deploymentId?: string;
  forced?: boolean;
  /** Where it came from, e.g. the pull request comment's URL. */
  source?: string;
}

const PREFIX = 'audit:';

export async function recordAudit(store: Store, entry: Omit<AuditEntry, 'at'> & { at?: string }): Promise<AuditEntry> {
  const full: AuditEntry = { at: entry.at ?? new Date().toISOString(), ...entry };
  // Time first, so a prefix listing is in order; the random tail keeps two entries of one millisecond apart.
  await store.set(`${PREFIX}${full.at}:${randomBytes(4).toString('hex')}`, full);
  return full;
}

/** Entries oldest first, optionally for one repository, the newest `limit` of them. */
export async function listAudit(store: Store, options: { repository?: string; limit?: number } = {}): Promise<AuditEntry[]> {
  const all = (await store.list<AuditEntry>(PREFIX)).map((e) => e.value).filter((e) => !options.repository || e.repository === options.repository);
  return options.limit ? all.slice(-options.limit) : all;
}
