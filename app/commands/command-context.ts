/**
 * What a pull-request command works with: the comment, GitHub (one installation's Octokit), the store, the engine
 * and the config in force — plus the small GitHub reads every command shares (permission, team membership, the
 * pull request itself).
 */
import type { Environment } from '../../config-schema/types.generated.js';
import type { ConfigInForce } from '../config/config-repo.js';
import type { Logger } from '../../lib/logger.js';
import type { RepositoryRef } from '../github/auto-deploy.js';
import type { GitHubOutbox } from '../github/github-outbox.js';
import type { StatusOctokit } from '../github/status-reporter.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import type { Store } from '../store/store.js';

export interface CommentEvent {
  repository: RepositoryRef;
  installationId: number;
  pullRequest: number;
  commentId: number;
  commentUrl: string;
  login: string;
}

export interface CommandDeps {
  store: Store;
  engine: RolloutEngine;
  configs: { current(repository: string): ConfigInForce | undefined };
  octokitFor(installationId: number): Promise<StatusOctokit>;
  /**
   * Where the 👀 reaction, the reply and the GitHub Deployment a command makes are queued for GitHub: they arrive even
   * if GitHub fails for a while (the deployment's rollout starts when GitHub created it).
   */
  outbox: Pick<GitHubOutbox, 'enqueue' | 'enqueueAll' | 'enqueueAndWait'>;
  log: Logger;
  publicUrl: () => string;
  now?: () => number;
  /** A lock was released: automatic deploys it held back look at their branch again; returns those environments. */
  onUnlocked?: (repository: string, environment: string | undefined) => Promise<string[]>;
}

export interface CommandContext extends CommandDeps {
  event: CommentEvent;
  octokit: StatusOctokit;
  environments: Record<string, Environment>;
}

/** A refusal: the reply says why, the audit log records it. */
export class Refusal extends Error {}

/** What GitHub says a person may do on a repository (`GET …/collaborators/{username}/permission`). */
export interface RepositoryPermission {
  permission: string;
  role_name?: string;
}

/** The repository a permission is asked about: `owner`, `name` and `fullName` (for messages). */
export type PermissionRepository = Pick<RepositoryRef, 'owner' | 'name' | 'fullName'>;

/** Asked with an installation's token, as GitHub wants for an App. */
export async function readRepositoryPermission(octokit: StatusOctokit, repository: PermissionRepository, login: string): Promise<RepositoryPermission> {
  const res = (await octokit.request('GET /repos/{owner}/{repo}/collaborators/{username}/permission', {
    owner: repository.owner,
    repo: repository.name,
    username: login,
  })) as { data: RepositoryPermission };
  return res.data;
}

/** Write, maintain or admin (a custom role built on one of them names it in `role_name`). */
export function hasWriteAccess(p: RepositoryPermission): boolean {
  return ['admin', 'write', 'maintain'].includes(p.permission) || ['admin', 'maintain', 'write'].includes(p.role_name ?? '');
}

/** Read or more: whom the status pages show a repository to. */
export function hasReadAccess(p: RepositoryPermission): boolean {
  return hasWriteAccess(p) || ['read', 'triage'].includes(p.permission) || ['read', 'triage'].includes(p.role_name ?? '');
}

/**
 * Write, maintain or admin on the repository; then the environment's own list of deployers, if it has one. The one
 * check behind PR commands and the dashboard's buttons; `permission` when the caller has it already (cached).
 *
 * @example
 * await checkMayChangeAs(octokit, { owner: 'acme', name: 'shop', fullName: 'acme/shop' }, 'octocat', 'production', environments.production);
 */
export async function checkMayChangeAs(
  octokit: StatusOctokit,
  repository: PermissionRepository,
  login: string,
  environment: string | undefined,
  config: Pick<Environment, 'deployers'> | undefined,
  permission?: RepositoryPermission,
): Promise<void> {
  const p = permission ?? (await readRepositoryPermission(octokit, repository, login));
  if (!hasWriteAccess(p)) {
    throw new Refusal(`sorry @${login}, only people with write, maintain or admin permission on ${repository.fullName} can do that (you have ${p.role_name ?? p.permission})`);
  }
  const deployers = environment ? config?.deployers : undefined;
  if (!deployers) return;
  if ((deployers.users ?? []).some((u) => u.toLowerCase() === login.toLowerCase())) return;
  for (const team of deployers.teams ?? []) {
    const [org, slug] = team.split('/') as [string, string];
    try {
      const m = (await octokit.request('GET /orgs/{org}/teams/{team_slug}/memberships/{username}', { org, team_slug: slug, username: login })) as { data: { state: string } };
      if (m.data.state === 'active') return;
    } catch (err) {
      if ((err as { status?: number }).status !== 404) throw err;
    }
  }
  const who = [...(deployers.users ?? []).map((u) => `@${u}`), ...(deployers.teams ?? []).map((t) => `@${t}`)].join(', ');
  throw new Refusal(`sorry @${login}, \`${environment}\` is deployed only by ${who || 'nobody (its deployers list is empty)'}`);
}

/** {@link checkMayChangeAs} for the commenter of a PR command. */
export async function checkMayChange(ctx: CommandContext, environment: string | undefined): Promise<void> {
  await checkMayChangeAs(ctx.octokit, ctx.event.repository, ctx.event.login, environment, environment ? ctx.environments[environment] : undefined);
}

export interface PullRequestHead {
  sha: string;
  fork: boolean;
  draft: boolean;
  state: string;
  headRepository: string | undefined;
}

/** The pull request's head commit as it is now: the SHA that ships, whatever is pushed later. */
export async function readPullRequest(ctx: CommandContext): Promise<PullRequestHead> {
  const { event } = ctx;
  const res = (await ctx.octokit.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { owner: event.repository.owner, repo: event.repository.name, pull_number: event.pullRequest })) as {
    data: { head: { sha: string; repo: { full_name: string } | null }; draft?: boolean; state: string };
  };
  const headRepository = res.data.head.repo?.full_name;
  return { sha: res.data.head.sha, fork: headRepository?.toLowerCase() !== event.repository.fullName.toLowerCase(), draft: res.data.draft === true, state: res.data.state, headRepository };
}

/** The environment named in a command, matched without regard to case; unknown ones are refused with the list. */
export function environmentNamed(ctx: CommandContext, name: string): string {
  const found = Object.keys(ctx.environments).find((e) => e.toLowerCase() === name.toLowerCase());
  if (!found) throw new Refusal(`${ctx.event.repository.fullName} has no environment \`${name}\`; its environments: ${Object.keys(ctx.environments).map((e) => `\`${e}\``).join(', ')}`);
  return found;
}
