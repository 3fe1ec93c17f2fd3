/**
 * What a signed-in person may see and do on each repository's deployments. The admin token's operator and named
 * local operators may do everything (they were let in by the hub's admin). A person signed in with GitHub: read (or
 * triage) → view; write, maintain or admin → continue, cancel and the other actions, narrowed by the environment's
 * `deployers` — the very check PR commands make (commands/command-context.ts `checkMayChangeAs`).
 *
 * GitHub is asked with the App's installation token, as for PR commands, and each answer is kept for 60 s per
 * (login, repository): a page listing 30 deployments of 5 repositories costs at most 5 requests a minute per person,
 * not one per row or per view.
 *
 * @example
 * const access = new RepositoryAccess({ octokitFor: (repository) => installationOctokitOf(repository), environments });
 * await access.canView(session.who, 'acme/shop');           // → true / false
 * await access.whyNotChange(session.who, deployment);        // → undefined, or the sentence saying why not
 */
import type { Environment } from '../../config-schema/types.generated.js';
import type { Logger } from '../../lib/logger.js';
import { checkMayChangeAs, hasReadAccess, Refusal, readRepositoryPermission, type RepositoryPermission } from '../commands/command-context.js';
import type { StatusOctokit } from '../github/status-reporter.js';
import type { SignedInAs } from '../pages/dashboard-sessions.js';

/** How long GitHub's answer about one person on one repository is believed. */
export const PERMISSION_TTL_MS = 60_000;
/** At most this many answers are kept (oldest dropped first): memory stays bounded whoever signs in. */
const MAX_ENTRIES = 10_000;

const NONE: RepositoryPermission = { permission: 'none' };

export interface RepositoryAccessDeps {
  /** The installation's Octokit for a repository (`owner/name`); undefined when the App is not installed on it. */
  octokitFor(repository: string): Promise<StatusOctokit | undefined>;
  /** The repository's environments in the config in force (for `deployers`). */
  environments(repository: string): Record<string, Environment> | undefined;
  log?: Logger;
  now?: () => number;
}

export class RepositoryAccess {
  #deps: RepositoryAccessDeps;
  #now: () => number;
  #cache = new Map<string, { value: Promise<RepositoryPermission>; until: number }>();
  /** Verdicts on acting (they may ask GitHub about team membership too): as long-lived as the permissions. */
  #verdicts = new Map<string, { value: Promise<string | undefined>; until: number }>();

  constructor(deps: RepositoryAccessDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** Whether `who` may see the repository's deployments, logs and actions. */
  async canView(who: SignedInAs, repository: string): Promise<boolean> {
    if (who.kind !== 'github') return true;
    return hasReadAccess(await this.permission(who.login, repository));
  }

  /**
   * Why `who` may not act on a deployment of `repository` to `environment` (continue, cancel, deploy…): the sentence
   * a refusal shows; undefined when they may.
   */
  async whyNotChange(who: SignedInAs, target: { repository: string; environment: string }, options: { fresh?: boolean } = {}): Promise<string | undefined> {
    if (who.kind !== 'github') return undefined;
    const key = `${who.login.toLowerCase()} ${target.repository.toLowerCase()} ${target.environment}`;
    return remember(this.#verdicts, key, this.#now(), options.fresh === true, () => this.#whyNotChange(who.login, target, options.fresh === true));
  }

  async #whyNotChange(login: string, target: { repository: string; environment: string }, fresh: boolean): Promise<string | undefined> {
    const permission = await this.permission(login, target.repository, { fresh });
    const octokit = await this.#deps.octokitFor(target.repository);
    if (!octokit) return `the GitHub App is not installed on ${target.repository}, so GitHub cannot say what @${login} may do there`;
    const [owner, name] = target.repository.split('/') as [string, string];
    try {
      await checkMayChangeAs(octokit, { owner, name, fullName: target.repository }, login, target.environment, this.#deps.environments(target.repository)?.[target.environment], permission);
      return undefined;
    } catch (err) {
      if (err instanceof Refusal) return err.message;
      throw err;
    }
  }

  /**
   * GitHub's answer for (login, repository), from the cache when younger than 60 s (`fresh`: asked again, as before
   * an action). Unknown user, not a collaborator, App not installed: none.
   */
  permission(login: string, repository: string, options: { fresh?: boolean } = {}): Promise<RepositoryPermission> {
    return remember(this.#cache, `${login.toLowerCase()} ${repository.toLowerCase()}`, this.#now(), options.fresh === true, () => this.#ask(login, repository));
  }

  async #ask(login: string, repository: string): Promise<RepositoryPermission> {
    const octokit = await this.#deps.octokitFor(repository);
    if (!octokit) return NONE;
    const [owner, name] = repository.split('/') as [string, string];
    try {
      return await readRepositoryPermission(octokit, { owner, name, fullName: repository }, login);
    } catch (err) {
      // Not a collaborator of a private repository, or no such user: nothing to show them.
      if ((err as { status?: number }).status === 404) return NONE;
      throw err;
    }
  }
}

/** A bounded cache of answers in flight or given: one request for many views at once; failures are not kept. */
function remember<T>(cache: Map<string, { value: Promise<T>; until: number }>, key: string, now: number, fresh: boolean, ask: () => Promise<T>): Promise<T> {
  const cached = cache.get(key);
  if (!fresh && cached && cached.until > now) return cached.value;
  const value = ask();
  cache.delete(key);
  cache.set(key, { value, until: now + PERMISSION_TTL_MS });
  value.catch(() => {
    if (cache.get(key)?.value === value) cache.delete(key);
  });
  while (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  return value;
}
