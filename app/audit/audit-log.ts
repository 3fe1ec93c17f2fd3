/**
 * The audit log: every action people and the hub take on environments — who, what, which commit, which
 * environment, and the outcome — kept in the store in time order and exported with `bitenvoy audit`.
 *
 * @example
 * await recordAudit(store, { actor: 'octocat', action: 'deploy', repository: 'acme/shop', environment: 'production', sha, outcome: 'started' });
 */
import { randomBytes } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Store } from '../store/store.js';

export interface AuditEntry {
  at: string;
  /**
   * A GitHub login (PR commands, people signed in to the status pages with GitHub), a named local operator's name,
   * `admin` for the status pages signed in with the shared admin token, `auto` for auto-deploys, `api` for the admin
   * API. (`dashboard` in entries from before named sign-ins: the shared admin token's buttons.)
   */
  actor: string;
  action: 'deploy' | 'rollback' | 'lock' | 'unlock' | 'continue' | 'cancel' | 'auto-deploy' | 'status' | 'help' | 'refused' | 'operator-create' | 'operator-remove';
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

/** A page of the audit log: entries oldest first, and the cursor of the page before it when there is one. */
export interface AuditPage {
  entries: AuditEntry[];
  older?: string;
}

/**
 * The newest `limit` entries before the cursor (an index read, whatever the length of the log), optionally of one
 * repository, oldest first. The cursor is the key of the oldest entry shown.
 *
 * @example
 * const { entries, older } = await pageOfAudit(store, { limit: 1000 });
 */
export async function pageOfAudit(store: Store, options: { repository?: string; before?: string; limit: number }): Promise<AuditPage> {
  if (options.before !== undefined && !/^audit:\d{4}-\d\d-\d\dT[\d:.]+Z:[0-9a-f]{8}$/.test(options.before)) {
    throw new BitEnvoyError('BE_BAD_REQUEST', `"${options.before.slice(0, 80)}" is not an audit page cursor: pass back the "older" value of the previous page`);
  }
  const rows = await store.db.all<{ key: string }>(
    `SELECT key FROM audit_entries WHERE key < ?${options.repository ? ' AND repository = ?' : ''} ORDER BY key DESC LIMIT ?`,
    options.before ?? `${PREFIX}\uffff`,
    ...(options.repository ? [options.repository] : []),
    options.limit + 1,
  );
  const shown = rows.slice(0, options.limit).reverse();
  const entries = (await store.getMany<AuditEntry>(shown.map((r) => r.key))).filter((e): e is AuditEntry => e !== undefined);
  return { entries, ...(rows.length > options.limit ? { older: shown[0]!.key } : {}) };
}

/** Entries oldest first, optionally for one repository, the newest `limit` of them (every one without a limit). */
export async function listAudit(store: Store, options: { repository?: string; limit?: number } = {}): Promise<AuditEntry[]> {
  const pages: AuditEntry[][] = [];
  let before: string | undefined;
  let wanted = options.limit ?? Number.POSITIVE_INFINITY;
  while (wanted > 0) {
    const page = await pageOfAudit(store, { ...(options.repository ? { repository: options.repository } : {}), ...(before ? { before } : {}), limit: Math.min(wanted, 1000) });
    pages.unshift(page.entries);
    wanted -= page.entries.length;
    if (!page.older) break;
    before = page.older;
  }
  return pages.flat();
}
