/**
 * Named queries over deployments, each served from an index: the active ones, a page before a cursor, an
 * environment's history newest first, the latest successful deployment of an environment.
 *
 * @example
 * const { deployments, next } = await pageOfDeployments(store, { limit: 30 });
 * const live = await latestSuccessful(store, 'acme/shop', 'staging');
 * const back = await latestSuccessfulOfCommit(store, 'acme/shop', 'staging', '4f2c1a9');
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { DeploymentRecord } from '../model.js';
import type { SqlValue } from './sql/sql-database.js';
import type { Store } from './store.js';

interface KeyRow {
  key: string;
}

/**
 * The records of the rows' keys, in order. Queries select keys and read records through the store, which keeps a
 * deployment's plan (its batches, 10,000 agent ids on a large rollout) apart from the small record and parses it
 * once per process.
 */
async function recordsOf(store: Store, rows: KeyRow[]): Promise<DeploymentRecord[]> {
  const records = await store.getMany<DeploymentRecord>(rows.map((row) => row.key));
  return records.filter((d): d is DeploymentRecord => d !== undefined);
}

/** Ids of the deployments not final yet (and failed ones whose automatic rollback is still to start), oldest first. */
export async function activeDeploymentIds(store: Store): Promise<string[]> {
  const rows = await store.db.all<{ key: string }>('SELECT key FROM deployments WHERE active = 1 ORDER BY created_at');
  return rows.map((row) => row.key.slice('deployment:'.length));
}

/**
 * A deployment's state alone (its indexed column: no record read, no lock), or undefined when there is none.
 *
 * @example
 * if ((await deploymentState(store, 'dep_1a2b')) === 'queued') … // only then can its first claim start it
 */
export async function deploymentState(store: Store, id: string): Promise<DeploymentRecord['state'] | undefined> {
  return (await store.db.get<{ state: DeploymentRecord['state'] }>('SELECT state FROM deployments WHERE key = ?', `deployment:${id}`))?.state;
}

/** A page of deployments, newest first, and the cursor of the next (older) page when there is one. */
export interface DeploymentPage {
  deployments: DeploymentRecord[];
  next?: string;
}

/**
 * The newest `limit` deployments created before the cursor (all of them without one), optionally of one
 * repository and environment. The cursor is opaque to callers: `<createdAt>~<id>` of the last one shown.
 */
export async function pageOfDeployments(store: Store, options: { before?: string; limit: number; repository?: string; environment?: string }): Promise<DeploymentPage> {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (options.repository) {
    where.push('repository = ?');
    params.push(options.repository);
    if (options.environment) {
      where.push('environment = ?');
      params.push(options.environment);
    }
  }
  if (options.before !== undefined) {
    const cursor = parseCursor(options.before);
    where.push('(created_at < ? OR (created_at = ? AND key < ?))');
    params.push(cursor.createdAt, cursor.createdAt, `deployment:${cursor.id}`);
  }
  const rows = await store.db.all<KeyRow>(
    `SELECT key FROM deployments ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, key DESC LIMIT ?`,
    ...params,
    options.limit + 1,
  );
  const deployments = await recordsOf(store, rows.slice(0, options.limit));
  const last = deployments[deployments.length - 1];
  return { deployments, ...(rows.length > options.limit && last ? { next: `${last.createdAt}~${last.id}` } : {}) };
}

function parseCursor(cursor: string): { createdAt: string; id: string } {
  const at = cursor.lastIndexOf('~');
  const createdAt = cursor.slice(0, at);
  const id = cursor.slice(at + 1);
  if (at <= 0 || !/^dep_[\w-]+$/.test(id) || Number.isNaN(Date.parse(createdAt))) {
    throw new BitEnvoyError('BE_BAD_REQUEST', `"${cursor.slice(0, 80)}" is not a page cursor: pass back the "next" value of the previous page`);
  }
  return { createdAt, id };
}

/** The environment's deployments, newest first, the newest `limit` of them. */
export async function deploymentsOfEnvironment(store: Store, repository: string, environment: string, limit: number): Promise<DeploymentRecord[]> {
  return (await pageOfDeployments(store, { repository, environment, limit })).deployments;
}

/** The environment's newest deployments that succeeded, newest end first (index deployments_successful). */
export async function successfulDeployments(store: Store, repository: string, environment: string, limit: number): Promise<DeploymentRecord[]> {
  return recordsOf(
    store,
    await store.db.all<KeyRow>(
      "SELECT key FROM deployments WHERE repository = ? AND environment = ? AND state = 'success' ORDER BY finished_at DESC LIMIT ?",
      repository,
      environment,
      limit,
    ),
  );
}

/**
 * The environment's newest successful deployment of another commit than `sha`, created no later than `createdBy`:
 * what a rollback away from `sha` goes back to.
 */
export async function lastGoodOtherThan(store: Store, repository: string, environment: string, sha: string, createdNoLaterThan?: string): Promise<DeploymentRecord | undefined> {
  // The environment's successes newest first (index deployments_successful), a page at a time: the first one of
  // another commit is nearly always on the first page.
  let before = '\uffff';
  for (;;) {
    const rows = await store.db.all<KeyRow & { finished_at: string }>(
      "SELECT key, finished_at FROM deployments WHERE repository = ? AND environment = ? AND state = 'success' AND finished_at < ? ORDER BY finished_at DESC LIMIT 50",
      repository,
      environment,
      before,
    );
    for (const dep of await recordsOf(store, rows)) {
      if (dep.sha !== sha && (!createdNoLaterThan || dep.createdAt <= createdNoLaterThan)) return dep;
    }
    if (rows.length < 50) return undefined;
    before = rows[rows.length - 1]!.finished_at;
  }
}

/** The environment's deployments that are not final yet (index deployments_active_by_environment), oldest first. */
export async function activeDeploymentsOf(store: Store, repository: string, environment: string): Promise<DeploymentRecord[]> {
  return recordsOf(store, await store.db.all<KeyRow>('SELECT key FROM deployments WHERE active = 1 AND repository = ? AND environment = ? ORDER BY created_at', repository, environment));
}

/** What the environment runs now: the deployment that succeeded there last. */
export async function latestSuccessful(store: Store, repository: string, environment: string): Promise<DeploymentRecord | undefined> {
  return (await successfulDeployments(store, repository, environment, 1))[0];
}

/**
 * The environment's newest successful deployment of the commit a SHA or SHA prefix (≥ 7 hex digits) names (index
 * deployments_successful_by_sha: a range of the environment's successes of that prefix). A prefix of two commits
 * that both succeeded there is ambiguous: BE_BAD_REQUEST naming both.
 */
export async function latestSuccessfulOfCommit(store: Store, repository: string, environment: string, shaPrefix: string): Promise<DeploymentRecord | undefined> {
  const prefix = shaPrefix.toLowerCase();
  // Hex digits sort before `g`: [prefix, prefix + 'g') is every SHA that starts with it.
  const commits = await store.db.all<{ sha: string }>(
    "SELECT DISTINCT sha FROM deployments WHERE repository = ? AND environment = ? AND state = 'success' AND sha >= ? AND sha < ? ORDER BY sha LIMIT 2",
    repository,
    environment,
    prefix,
    `${prefix}g`,
  );
  if (commits.length > 1) {
    throw new BitEnvoyError('BE_BAD_REQUEST', `\`${shaPrefix}\` names more than one commit that succeeded on \`${environment}\` (${commits.map((c) => c.sha.slice(0, 12)).join(', ')}): give more of the SHA`);
  }
  if (!commits[0]) return undefined;
  const rows = await store.db.all<KeyRow>(
    "SELECT key FROM deployments WHERE repository = ? AND environment = ? AND state = 'success' AND sha = ? ORDER BY finished_at DESC LIMIT 1",
    repository,
    environment,
    commits[0].sha,
  );
  return (await recordsOf(store, rows))[0];
}
