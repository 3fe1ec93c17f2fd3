/**
 * A comment on a pull request: if it is a BitEnvoy command, it gets 👀 at once, then a reply — a link to the
 * deployment, the answer asked for, or the reason for a refusal — and an entry in the audit log. Edited and
 * deleted comments never reach here (only `created` is handled). The reaction and the reply are queued in the
 * GitHub outbox (github-outbox.ts), which sends them in that order.
 *
 * @example
 * app.on('issue_comment.created', (c) => onPullRequestComment(commentFrom(c.payload), c.payload.comment.body, deps));
 */
import { isErrorCode } from '../../lib/errors.js';
import { recordAudit, type AuditEntry } from '../audit/audit-log.js';
import { checkMayChange, environmentNamed, Refusal, type CommandContext, type CommandDeps, type CommentEvent } from './command-context.js';
import { deployCommand, rollbackCommand } from './deploy-command.js';
import { activeDeploymentsOf, deploymentsOfEnvironment } from '../store/deployment-queries.js';
import { activeLock, describeLock, releaseLock, takeLock } from '../rollout/environment-locks.js';
import { COMMAND_USAGE, parseCommand, type Command } from './parse-command.js';
import { parseDuration } from '../../lib/parse-duration.js';

const REACTION = 'POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions';
const REPLY = 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments';

export type CommandOutcome = 'not-a-command' | 'answered' | 'refused' | 'failed';

export async function onPullRequestComment(event: CommentEvent, body: string, deps: CommandDeps): Promise<CommandOutcome> {
  const parsed = parseCommand(body);
  if (!parsed) return 'not-a-command';
  const log = deps.log.child({ repository: event.repository.fullName, pullRequest: event.pullRequest, login: event.login });
  const { owner, name: repo, fullName } = event.repository;
  const repoConfig = deps.configs.current(fullName)?.repositories[fullName];
  // In a repository BitEnvoy does not deploy, `/help` or `/status` may well be another bot's: answer only what is
  // unmistakably ours.
  if (!repoConfig && !(parsed.kind === 'command' && ['deploy', 'rollback', 'continue', 'lock', 'unlock'].includes(parsed.command.name))) {
    log.debug(`/${parsed.kind === 'command' ? parsed.command.name : parsed.kind === 'unknown' ? parsed.word : parsed.name} in a repository BitEnvoy does not deploy: not answered`);
    return 'not-a-command';
  }
  // Through the outbox, in this order: GitHub gets them even if it fails for a while or the hub restarts meanwhile.
  const effect = (route: string, params: Record<string, unknown>) => ({ installationId: event.installationId, route, params });
  const eyes = effect(REACTION, { owner, repo, comment_id: event.commentId, content: 'eyes' });
  const answer = (text: string) => effect(REPLY, { owner, repo, issue_number: event.pullRequest, body: text.slice(0, 65_000) });
  const reply = (text: string) => deps.outbox.enqueueAll([answer(text)]);
  const audit = (entry: Omit<AuditEntry, 'at' | 'actor' | 'repository' | 'source'>) => recordAudit(deps.store, { actor: event.login, repository: fullName, source: event.commentUrl, ...entry });

  // Refused before anything runs: the reaction and the reply are journalled together.
  const refuse = async (text: string): Promise<CommandOutcome> => {
    await deps.outbox.enqueueAll([eyes, answer(text)]);
    return 'refused';
  };
  if (!repoConfig) {
    return refuse(`@${event.login} ${fullName} is not set up for BitEnvoy: add \`repositories/${fullName}.yml\` to the config repo (and check that the config in force is valid).`);
  }
  if (parsed.kind === 'unknown') return refuse(`@${event.login} \`/${parsed.word}\` is not a BitEnvoy command.\n\n${helpText({ environments: repoConfig.environments, event })}`);
  if (parsed.kind === 'invalid') return refuse(`@${event.login} ${parsed.message}.\n\nUsage: ${COMMAND_USAGE[parsed.name as Command['name']] ?? ''}`);
  await deps.outbox.enqueueAll([eyes]);
  const octokit = await deps.octokitFor(event.installationId);
  const ctx: CommandContext = { ...deps, event, octokit, environments: repoConfig.environments };
  const command = parsed.command;
  try {
    const text = await run(ctx, command, audit);
    await reply(`@${event.login} ${text}`);
    return 'answered';
  } catch (err) {
    if (err instanceof Refusal) {
      log.info(`/${command.name} refused: ${err.message}`);
      await audit({ action: command.name, environment: 'environment' in command ? command.environment : undefined, outcome: 'refused', detail: err.message });
      await reply(`@${event.login} ${err.message}`);
      return 'refused';
    }
    log.error({ err }, `/${command.name} failed`);
    await reply(`@${event.login} \`/${command.name}\` failed on the hub: ${(err as Error).message}. The hub's log has the details; try again, or ask the platform team.`).catch(() => undefined);
    return 'failed';
  }
}

async function run(ctx: CommandContext, command: Command, audit: (entry: Omit<AuditEntry, 'at' | 'actor' | 'repository' | 'source'>) => Promise<AuditEntry>): Promise<string> {
  const repository = ctx.event.repository.fullName;
  switch (command.name) {
    case 'help':
      return helpText(ctx);
    case 'status':
      return statusText(ctx);
    case 'deploy': {
      const environment = environmentNamed(ctx, command.environment);
      if (!command.dryRun) await checkMayChange(ctx, environment);
      const outcome = await deployCommand(ctx, { ...command, environment });
      await audit({ action: 'deploy', environment, sha: outcome.sha, outcome: command.dryRun ? 'planned' : 'started', ...(outcome.deploymentId ? { deploymentId: outcome.deploymentId } : {}), ...(outcome.forced ? { forced: true } : {}) });
      return outcome.reply;
    }
    case 'rollback': {
      const environment = environmentNamed(ctx, command.environment);
      await checkMayChange(ctx, environment);
      const outcome = await rollbackCommand(ctx, { environment });
      await audit({ action: 'rollback', environment, sha: outcome.sha, outcome: 'started', ...(outcome.deploymentId ? { deploymentId: outcome.deploymentId } : {}) });
      return outcome.reply;
    }
    case 'continue': {
      const environment = environmentNamed(ctx, command.environment);
      await checkMayChange(ctx, environment);
      const paused = (await activeDeploymentsOf(ctx.store, repository, environment)).find((d) => d.gate && !['success', 'failure', 'error', 'cancelled'].includes(d.state));
      const released = paused ? await ctx.engine.continueDeployment(paused.id, ctx.event.login).catch((err: unknown) => {
        if (isErrorCode(err, 'BE_GUARD_RAIL')) throw new Refusal(err.message);
        throw err;
      }) : false;
      if (!paused || !released) throw new Refusal(`no rollout of \`${environment}\` is paused; \`/continue\` releases one waiting between batches`);
      await audit({ action: 'continue', environment, sha: paused.sha, outcome: 'continued', deploymentId: paused.id });
      return `▶️ the rollout of \`${paused.sha.slice(0, 7)}\` to \`${environment}\` goes on after batch ${paused.gate!.afterBatch + 1}/${paused.batches.length}: ${ctx.publicUrl()}/deployments/${paused.id}`;
    }
    case 'lock': {
      const environment = command.global ? undefined : environmentNamed(ctx, command.environment!);
      await checkMayChange(ctx, environment);
      const now = ctx.now?.() ?? Date.now();
      const timeout = environment ? ctx.environments[environment]?.lockTimeout : undefined;
      const { taken, lock } = await takeLock(
        ctx.store,
        {
          repository,
          ...(environment ? { environment } : {}),
          by: ctx.event.login,
          ...(command.reason ? { reason: command.reason } : {}),
          at: new Date(now).toISOString(),
          ...(timeout !== undefined ? { expiresAt: new Date(now + parseDuration(timeout)).toISOString() } : {}),
        },
        now,
      );
      if (!taken) throw new Refusal(`already ${describeLock(lock).replace(/^`[^`]+` is /, '')}; ask @${lock.by} or \`/unlock${environment ? ` ${environment}` : ' --global'}\` first`);
      await audit({ action: 'lock', ...(environment ? { environment } : {}), outcome: 'locked', ...(command.reason ? { detail: command.reason } : {}) });
      const unlock = `\`/unlock${environment ? ` ${environment}` : ' --global'}\``;
      return `🔒 ${describeLock(lock)}. Every deployment${environment ? ` to \`${environment}\`` : ''} — commands, the API, other tools' GitHub deployments, rollbacks — is refused until ${unlock}; automatic deploys wait and ship the branch head once it is unlocked, and a rollout paused between batches stays paused.`;
    }
    case 'unlock': {
      const environment = command.global ? undefined : environmentNamed(ctx, command.environment!);
      await checkMayChange(ctx, environment);
      const released = await releaseLock(ctx.store, repository, environment);
      if (!released) throw new Refusal(`${environment ? `\`${environment}\` is` : 'the repository is'} not locked${environment && (await activeLock(ctx.store, repository, environment)) ? ' (a global lock holds it: `/unlock --global`)' : ''}`);
      await audit({ action: 'unlock', ...(environment ? { environment } : {}), outcome: 'unlocked', detail: `lock by @${released.by}${released.reason ? `: ${released.reason}` : ''}` });
      // Held-back automatic deploys look at their branch again; the unlock itself stands whatever happens there.
      const again = await (ctx.onUnlocked?.(repository, environment) ?? Promise.resolve([])).catch((err: unknown) => {
        ctx.log.error({ err }, 'after /unlock: looking at held-back automatic deploys failed');
        return [] as string[];
      });
      const note = again.length ? ` Automatic deploys it held back now ship the head of their branch (${again.map((e) => `\`${e}\``).join(', ')}) once its checks pass.` : '';
      return `🔓 ${environment ? `\`${environment}\`` : 'every environment'} unlocked (it was locked by @${released.by}${released.reason ? `: ${released.reason}` : ''}).${note}`;
    }
  }
}

function helpText(ctx: Pick<CommandContext, 'environments' | 'event'>): string {
  const envs = Object.entries(ctx.environments).map(([name, env]) => `\`${name}\` (branch \`${env.branch}\`, group \`${env.group}\`${env.auto ? ', deploys automatically when checks pass' : ''}${env.after ? `, after \`${env.after}\`` : ''})`);
  return ['BitEnvoy commands (a comment that starts with one):', ...Object.values(COMMAND_USAGE).map((u) => `- ${u}`), '', `Environments of ${ctx.event.repository.fullName}: ${envs.join(', ')}`].join('\n');
}

async function statusText(ctx: CommandContext): Promise<string> {
  const repository = ctx.event.repository.fullName;
  const rows = ['| environment | commit | when | by | state | lock |', '|---|---|---|---|---|---|'];
  for (const environment of Object.keys(ctx.environments)) {
    const [latest] = await deploymentsOfEnvironment(ctx.store, repository, environment, 1);
    const lock = await activeLock(ctx.store, repository, environment, ctx.now?.());
    const by = latest?.createdBy.replace(/^github:/, '@') ?? '';
    rows.push(
      `| \`${environment}\` | ${latest ? `\`${latest.sha.slice(0, 7)}\`` : '–'} | ${latest?.createdAt ?? '–'} | ${by || '–'} | ${latest ? `[${latest.state}](${ctx.publicUrl()}/deployments/${latest.id})` : 'never deployed'} | ${lock ? `🔒 @${lock.by}${lock.reason ? `: ${lock.reason.replace(/\|/g, '\\|')}` : ''}` : '–'} |`,
    );
  }
  return `status of ${repository}:\n\n${rows.join('\n')}`;
}
