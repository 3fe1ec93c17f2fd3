/**
 * `/deploy <environment>` and `/rollback <environment>`: every guard rail, in the order a person can fix them —
 * lock, fork, draft, checks (with `--force` for named users), promotion order — then the GitHub Deployment of the
 * pull request's head SHA as it was when the comment came, started like any other. `--dry-run` shows the plan
 * and what would block it, and creates nothing.
 */
import type { Environment } from '../../config-schema/types.generated.js';
import { evaluateChecks } from '../github/evaluate-checks.js';
import { CONFIG_CHECK_NAME } from '../github/config-check-run.js';
import { startRolloutThroughGitHub } from '../github/start-github-rollout.js';
import { listCommitChecks } from '../github/list-commit-checks.js';
import { keys, type DeploymentRecord } from '../model.js';
import { lastGoodOtherThan, latestSuccessful } from '../store/deployment-queries.js';
import { agentsById } from '../store/agent-queries.js';
import { guardRailRefusals } from '../rollout/guard-rails.js';
import { environmentNamed, readPullRequest, Refusal, type CommandContext } from './command-context.js';

export interface DeployOutcome {
  reply: string;
  sha: string;
  environment: string;
  deploymentId?: string;
  forced?: boolean;
}

export async function deployCommand(ctx: CommandContext, args: { environment: string; dryRun: boolean; force: boolean }): Promise<DeployOutcome> {
  const { event } = ctx;
  const environment = environmentNamed(ctx, args.environment);
  const env = ctx.environments[environment]!;
  const pr = await readPullRequest(ctx);
  // The environment's own guard rails (lock, promotion order) are the engine's: asked here to answer before anything is made.
  const blockers = await guardRailRefusals(ctx.store, { repository: event.repository.fullName, environment, sha: pr.sha, after: env.after }, ctx.now?.());
  if (pr.fork && !env.allowForks) blockers.push(`this pull request comes from a fork (${pr.headRepository ?? 'a deleted repository'}), and \`${environment}\` does not take forks (\`allowForks\`)`);
  if (pr.draft && !env.allowDrafts) blockers.push(`this pull request is a draft, and \`${environment}\` does not take drafts (\`allowDrafts\`): mark it ready for review first`);
  const { checks, incomplete } = await listCommitChecks(ctx.octokit, { owner: event.repository.owner, repo: event.repository.name, sha: pr.sha });
  const verdict = evaluateChecks(env.requiredChecks ?? 'all', checks, { ignore: [CONFIG_CHECK_NAME], ...(incomplete ? { incomplete } : {}) });
  let forced = false;
  if (verdict.verdict !== 'green') {
    if (args.force && mayForce(env, event.login)) forced = true;
    else blockers.push(`its checks are not green (${verdict.description})${args.force ? `; \`--force\` is allowed only for ${(env.forceUsers ?? []).map((u) => `@${u}`).join(', ') || 'nobody here'}` : ''}`);
  }

  if (args.dryRun) return { reply: await describePlan(ctx, environment, pr.sha, blockers), sha: pr.sha, environment };
  if (blockers.length) throw new Refusal(`cannot deploy \`${pr.sha.slice(0, 7)}\` to \`${environment}\`: ${blockers.join('; ')}`);
  const { deploymentId, queued } = await startDeployment(ctx, { environment, sha: pr.sha, trigger: 'command', forced, description: `/deploy by @${event.login} from #${event.pullRequest}${forced ? ' (forced)' : ''}` });
  const what = `\`${pr.sha.slice(0, 7)}\` to \`${environment}\`${forced ? ' (forced past red checks)' : ''}`;
  const reply = queued !== undefined ? `${queuedNote(what, queued)}: ${ctx.publicUrl()}/deployments/${deploymentId}` : `deploying ${what}: ${ctx.publicUrl()}/deployments/${deploymentId}${await waitingNote(ctx, deploymentId)}`;
  return { reply, sha: pr.sha, environment, deploymentId, forced };
}

/**
 * Whether `login` may deploy to `env` past checks that are not green (`/deploy <env> --force`, and the status pages'
 * "Deploy anyway (forced)"): only logins listed in the environment's `forceUsers`, compared as GitHub compares logins.
 *
 * @example
 * mayForce({ forceUsers: ['Mona'] }, 'mona'); // → true
 */
export function mayForce(env: Pick<Environment, 'forceUsers'>, login: string): boolean {
  return (env.forceUsers ?? []).some((u) => u.toLowerCase() === login.toLowerCase());
}

export async function rollbackCommand(ctx: CommandContext, args: { environment: string }): Promise<DeployOutcome> {
  const { event } = ctx;
  const environment = environmentNamed(ctx, args.environment);
  const refusals = await guardRailRefusals(ctx.store, { repository: event.repository.fullName, environment, sha: '', rollback: true }, ctx.now?.());
  if (refusals.length) throw new Refusal(`cannot roll back \`${environment}\`: ${refusals.join('; ')}`);
  // Index reads, however long the history: what runs now, and the newest success of another commit before it.
  const current = await latestSuccessful(ctx.store, event.repository.fullName, environment);
  const previous = current ? await lastGoodOtherThan(ctx.store, event.repository.fullName, environment, current.sha) : undefined;
  if (!current || !previous) {
    throw new Refusal(`\`${environment}\` has no earlier successful commit to roll back to${current ? ` (only \`${current.sha.slice(0, 7)}\` ever succeeded there)` : ''}`);
  }
  const { deploymentId, queued } = await startDeployment(ctx, {
    environment,
    sha: previous.sha,
    trigger: 'rollback',
    forced: false,
    description: `/rollback by @${event.login}: back to ${previous.sha.slice(0, 7)} from ${current.sha.slice(0, 7)}`,
    rollbackOf: current.id,
  });
  const what = `the rollback of \`${environment}\` from \`${current.sha.slice(0, 7)}\` to \`${previous.sha.slice(0, 7)}\``;
  return {
    reply:
      queued !== undefined
        ? `${queuedNote(what, queued)}: ${ctx.publicUrl()}/deployments/${deploymentId}`
        : `rolling \`${environment}\` back from \`${current.sha.slice(0, 7)}\` to \`${previous.sha.slice(0, 7)}\` (deployed ${previous.createdAt}) as a new deployment: ${ctx.publicUrl()}/deployments/${deploymentId}${await waitingNote(ctx, deploymentId)}`,
    sha: previous.sha,
    environment,
    deploymentId,
  };
}

/** Starts the rollout through GitHub; `queued` says why GitHub has not created its deployment yet, if it has not. */
async function startDeployment(
  ctx: CommandContext,
  args: { environment: string; sha: string; trigger: 'command' | 'rollback'; forced: boolean; description: string; rollbackOf?: string },
): Promise<{ deploymentId: string; queued?: string }> {
  const { event } = ctx;
  const started = await startRolloutThroughGitHub(ctx, {
    installationId: event.installationId,
    repository: event.repository,
    // A rollback lets agents restore a kept release.
    ...(args.rollbackOf ? { intent: { rollbackOf: args.rollbackOf } } : {}),
    sha: args.sha,
    environment: args.environment,
    env: ctx.environments[args.environment]!,
    trigger: args.trigger,
    description: `BitEnvoy: ${args.description}`,
    publicUrl: ctx.publicUrl(),
    actor: event.login,
    pullRequest: event.pullRequest,
    forced: args.forced,
  });
  return { deploymentId: started.rolloutId, ...(started.state === 'queued' ? { queued: started.reason } : {}) };
}

/** The reply when GitHub did not take the deployment at once: it is not lost, it is made when GitHub answers. */
function queuedNote(what: string, reason: string): string {
  return `⏳ ${what} is queued: GitHub did not take the deployment at once (${reason}). The hub creates it as soon as GitHub answers, and the rollout starts then`;
}

/** " — it waits for dep_…, the rollout running there now" when the environment is busy. */
async function waitingNote(ctx: CommandContext, deploymentId: string): Promise<string> {
  const before = (await ctx.store.get<DeploymentRecord>(keys.deployment(deploymentId)))?.waitingFor;
  return before ? ` — it waits for ${before}, the rollout running there now (a newer request replaces it while it waits)` : '';
}

/** The dry-run reply: commit, group, the servers it resolves to today, batches in order, and what would block it. */
async function describePlan(ctx: CommandContext, environment: string, sha: string, blockers: string[]): Promise<string> {
  const { event } = ctx;
  // Planned as the GitHub deployment it would be: fetched from GitHub's clone URL, not a configured `git` one.
  const github = { installationId: event.installationId, owner: event.repository.owner, repo: event.repository.name, deploymentId: 0, cloneUrl: event.repository.cloneUrl };
  const plan = await ctx.engine.previewDeployment({ repository: event.repository.fullName, ref: sha, environment }, { github });
  const names = new Map([...(await agentsById(ctx.store, plan.batches.flatMap((b) => b.agentIds)))].map(([id, a]) => [id, a.name]));
  const lines = [
    `**Dry run** of \`/deploy ${environment}\` — nothing was created.`,
    `- commit: \`${sha}\` (this pull request's head now)`,
    `- group: \`${plan.group}\`, strategy \`${plan.strategy}\``,
    `- servers today: ${plan.batches.flatMap((b) => b.agentIds).length}${plan.skipped.length ? ` (${plan.skipped.length} lost, skipped: ${plan.skipped.map((s) => s.name).join(', ')})` : ''}`,
    ...plan.batches.map((b, i) => `- batch ${i + 1}: ${b.agentIds.map((id) => names.get(id) ?? id).join(', ')}`),
    plan.state === 'error' ? `- would fail: ${plan.description}` : '',
    blockers.length ? `- blocked: ${blockers.join('; ')}` : '- nothing blocks it',
  ];
  return lines.filter(Boolean).join('\n');
}
