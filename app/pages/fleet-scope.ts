/**
 * What of the fleet a person signed in with GitHub may see on the agents, config and deployments pages. Servers,
 * groups and config repos are shared by every repository a config governs, so they are shown to whoever can read at
 * least one of those repositories (or, in GitHub mode, the owner's config repo itself), and only for the configs that
 * person can read a repository of; each agent's jobs are shown only for repositories the person can read. Anyone
 * else who signs in with GitHub (any GitHub account can) sees none of it. Public pages, the admin token's operator
 * and named local operators see everything.
 *
 * GitHub is asked through RepositoryAccess (one cached answer per person and repository), a few repositories at a
 * time, stopping for each config at the first repository the person can read.
 *
 * @example
 * const scope = await fleetScope(ctx, access, configs);
 * if (!scope.any) return refuseFleet(ctx);            // 403, saying why
 * groupsOfAgent(view, scope.configs);
 * jobs.filter(await scope.jobFilter(jobs));
 */
import type { Context } from 'koa';
import type { RepositoryAccess } from '../auth/repository-access.js';
import type { ConfigInForce, ConfigStatus } from '../config/config-repo.js';
import { BitEnvoyError } from '../../lib/errors.js';
import type { DashboardSession } from './dashboard-sessions.js';
import type { EnvironmentConfigs } from './environments-list.js';

/** Repositories asked about at once while looking for one the person can read. */
const PARALLEL = 8;

export interface FleetScope {
  /** Everything is visible (public pages, or a person who is not a GitHub account). */
  all: boolean;
  /** The configs in force whose groups and agents the person may see. */
  configs: ConfigInForce[];
  /** Whether the person may see anything of the fleet: the agents list, an agent, the config page. */
  any: boolean;
  /** Whether a config repo's status (GitHub mode: one per owner) is shown. */
  showsStatus(status: ConfigStatus): boolean;
  /** Whether one repository's jobs and deployments are shown. */
  canView(repository: string): Promise<boolean>;
}

/** The configs in force, and in GitHub mode each owner's config repo status and the config repo's name. */
export type FleetConfigs = EnvironmentConfigs & { statuses?(): ConfigStatus[]; readonly repoName?: string | undefined };

export async function fleetScope(ctx: Context, access: RepositoryAccess | undefined, configs: FleetConfigs | undefined): Promise<FleetScope> {
  const inForce = configs?.inForce() ?? [];
  const session = ctx.state.session as DashboardSession | undefined;
  if (!session || !access || session.who.kind !== 'github') {
    return { all: true, configs: inForce, any: true, showsStatus: () => true, canView: async () => true };
  }
  const who = session.who;
  const canView = (repository: string) => access.canView(who, repository);
  const visible = (await Promise.all(inForce.map(async (c) => ((await anyReadable(Object.keys(c.repositories), canView)) ? c : undefined)))).filter((c): c is ConfigInForce => c !== undefined);
  // An owner's config repo lets its readers see that owner's part even before any repository is configured.
  const owners = new Set(visible.flatMap((c) => Object.keys(c.repositories).map((r) => r.split('/')[0]!.toLowerCase())));
  const statuses = configs?.statuses?.() ?? [];
  const repoName = configs?.repoName;
  if (repoName) {
    await Promise.all(
      statuses.map(async (s) => {
        if (s.owner && !owners.has(s.owner.toLowerCase()) && (await canView(`${s.owner}/${repoName}`))) owners.add(s.owner.toLowerCase());
      }),
    );
  }
  return {
    all: false,
    configs: visible,
    any: visible.length > 0 || owners.size > 0,
    showsStatus: (s) => (s.owner ? owners.has(s.owner.toLowerCase()) : visible.length > 0),
    canView,
  };
}

/** The 403 for a person who may see nothing of the fleet, saying why and what would change it. */
export function fleetRefusal(): BitEnvoyError {
  return new BitEnvoyError(
    'BE_FORBIDDEN',
    'your GitHub account cannot read any repository this hub deploys, so its servers and config are not shown: ask an owner of the repositories for read access, then sign in again',
  );
}

async function anyReadable(repositories: string[], canView: (repository: string) => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < repositories.length; i += PARALLEL) {
    const answers = await Promise.all(repositories.slice(i, i + PARALLEL).map(canView));
    if (answers.includes(true)) return true;
  }
  return false;
}
