/**
 * Which repository × environment pairs the environments page lists: those of the config in force (repositories in
 * name order, environments in their config's order, as `GET /api/v1/environments`), only those the person may view,
 * narrowed by the page's filters (`?repository=` exactly, `?q=` a case-insensitive part of "owner/repo environment"),
 * and a page of them after a cursor (`?after=` the last pair shown). Only the pairs of the page are read further.
 *
 * @example
 * const pairs = await listEnvironmentPairs(configs, { repository: 'acme/shop', q: 'prod' }, async () => true);
 * const { rows, next } = pageOfPairs(pairs, undefined, 50);
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { ConfigInForce } from '../config/config-repo.js';

/** The configs in force (one per installation owner in GitHub mode) and the one of a repository. */
export interface EnvironmentConfigs {
  inForce(): ConfigInForce[];
  current(repository: string): ConfigInForce | undefined;
}

export interface EnvironmentPair {
  repository: string;
  environment: string;
}

export interface PairFilter {
  repository?: string;
  q?: string;
}

/** Every configured pair the person may view, and the repositories among them (for the filter's choices). */
export async function listEnvironmentPairs(
  configs: EnvironmentConfigs | undefined,
  filter: PairFilter,
  canView: (repository: string) => Promise<boolean>,
): Promise<{ pairs: EnvironmentPair[]; repositories: string[] }> {
  const all = [...new Set((configs?.inForce() ?? []).flatMap((c) => Object.keys(c.repositories)))].sort();
  // One answer per repository (RepositoryAccess caches it), however many environments it has.
  const repositories = (await Promise.all(all.map(async (r) => ((await canView(r)) ? r : undefined)))).filter((r): r is string => r !== undefined);
  const q = filter.q?.trim().toLowerCase();
  const pairs = repositories
    .filter((r) => !filter.repository || r === filter.repository)
    .flatMap((repository) => Object.keys(configs?.current(repository)?.repositories[repository]?.environments ?? {}).map((environment) => ({ repository, environment })))
    .filter((p) => !q || `${p.repository} ${p.environment}`.toLowerCase().includes(q));
  return { pairs, repositories };
}

/** The cursor of a pair: what `?after=` carries. */
export const pairCursor = (p: EnvironmentPair): string => `${p.repository} ${p.environment}`;

/** The `limit` pairs after the cursor, and the cursor of the next page when there is one. */
export function pageOfPairs(pairs: EnvironmentPair[], after: string | undefined, limit: number): { rows: EnvironmentPair[]; next?: string } {
  const start = after === undefined ? 0 : pairs.findIndex((p) => pairCursor(p) === after) + 1;
  if (after !== undefined && start === 0) {
    throw new BitEnvoyError('BE_BAD_REQUEST', `"${after.slice(0, 200)}" is not a page of this list (the config may have changed): start again from the first page`);
  }
  const rows = pairs.slice(start, start + limit);
  const last = rows[rows.length - 1];
  return { rows, ...(start + limit < pairs.length && last ? { next: pairCursor(last) } : {}) };
}
