/**
 * Named queries over `releases`: what each server runs now, per repository and environment (a row per server,
 * written with the job that succeeded there, see recordRelease in document-writes.ts). Each reads an index range, so
 * a page costs the same with 10 or 10,000 servers and whatever the history.
 *
 * @example
 * const { releases, next } = await pageOfReleases(store, 'acme/shop', 'production', { limit: 50 });
 * const { servers, onSha } = await countReleasesOn(store, 'acme/shop', 'production', live.sha); // drift
 * const mine = await releasesOfAgent(store, 'ag_9f', 100);                                        // its page
 */
import type { Store } from './store.js';

/** One server's release of one application. */
export interface Release {
  repository: string;
  environment: string;
  agentId: string;
  /** The agent's name; absent when the agent record is gone (a row it left behind). */
  agentName?: string;
  sha: string;
  deploymentId: string;
  jobId: string;
  /** When its job succeeded. */
  at: string;
  /** Whether the deployment is still stored: retention may have pruned it (then there is nothing to link to). */
  deploymentKept: boolean;
}

interface ReleaseRow {
  repository: string;
  environment: string;
  agent_id: string;
  agent_name: string | null;
  sha: string;
  deployment_id: string;
  job_id: string;
  at: string;
  deployment_key: string | null;
}

/** Each row's agent name and whether its deployment is still stored: one primary-key lookup each. */
const SELECT = `SELECT r.repository, r.environment, r.agent_id, a.name AS agent_name, r.sha, r.deployment_id, r.job_id, r.at, d.key AS deployment_key
  FROM releases r LEFT JOIN agents a ON a.key = 'agent:' || r.agent_id LEFT JOIN deployments d ON d.key = 'deployment:' || r.deployment_id`;

function releaseOf(row: ReleaseRow): Release {
  return {
    repository: row.repository,
    environment: row.environment,
    agentId: row.agent_id,
    ...(row.agent_name ? { agentName: row.agent_name } : {}),
    sha: row.sha,
    deploymentId: row.deployment_id,
    jobId: row.job_id,
    at: row.at,
    deploymentKept: row.deployment_key !== null,
  };
}

/** A page of an environment's servers, and the agent id to continue after when there are more. */
export interface ReleasePage {
  releases: Release[];
  next?: string;
}

/**
 * The environment's servers with their release, by agent id after `after` (the primary key's range: agent ids are
 * stable where names are only labels, and the order needs no sort of the whole environment).
 *
 * @example
 * const first = await pageOfReleases(store, 'acme/shop', 'staging', { limit: 50 });
 * const second = await pageOfReleases(store, 'acme/shop', 'staging', { after: first.next, limit: 50 });
 */
export async function pageOfReleases(store: Store, repository: string, environment: string, options: { after?: string; limit: number }): Promise<ReleasePage> {
  const rows = await store.db.all<ReleaseRow>(
    `${SELECT} WHERE r.repository = ? AND r.environment = ? AND r.agent_id > ? ORDER BY r.agent_id LIMIT ?`,
    repository,
    environment,
    options.after ?? '',
    options.limit + 1,
  );
  const releases = rows.slice(0, options.limit).map(releaseOf);
  return { releases, ...(rows.length > options.limit && releases.length ? { next: releases[releases.length - 1]!.agentId } : {}) };
}

/** Servers with a release in an environment, and how many of them run `sha`. */
export interface ReleaseCounts {
  servers: number;
  onSha: number;
}

/**
 * How many servers have a release in the environment, and how many run `sha` (index releases_by_sha for both: the
 * environment's range, and its range of one commit).
 *
 * @example
 * const { servers, onSha } = await countReleasesOn(store, 'acme/shop', 'production', live.sha);
 * const drift = servers - onSha;
 */
export async function countReleasesOn(store: Store, repository: string, environment: string, sha: string): Promise<ReleaseCounts> {
  const row = await store.db.get<{ servers: number; on_sha: number | null }>(
    'SELECT COUNT(*) AS servers, SUM(CASE WHEN sha = ? THEN 1 ELSE 0 END) AS on_sha FROM releases WHERE repository = ? AND environment = ?',
    sha,
    repository,
    environment,
  );
  return { servers: Number(row?.servers ?? 0), onSha: Number(row?.on_sha ?? 0) };
}

/**
 * What one agent runs, one row per repository and environment, in that order (index releases_by_agent), at most
 * `limit` of them.
 */
export async function releasesOfAgent(store: Store, agentId: string, limit: number): Promise<Release[]> {
  const rows = await store.db.all<ReleaseRow>(`${SELECT} WHERE r.agent_id = ? ORDER BY r.repository, r.environment LIMIT ?`, agentId, limit);
  return rows.map(releaseOf);
}
