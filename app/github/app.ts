/**
 * The Probot app: GitHub events in, plain functions do the work. Handlers stay thin — read the event, return early
 * when it is not ours, call a function that takes its dependencies as parameters.
 */
import type { ApplicationFunction } from 'probot';
import type { Logger } from '../../lib/logger.js';
import type { ConfigRepos } from '../config/config-repos.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import type { Store } from '../store/store.js';
import type { AutoDeployer, RepositoryRef } from './auto-deploy.js';
import type { CommandDeps } from '../commands/command-context.js';
import { onPullRequestComment } from '../commands/on-pr-command.js';
import { onConfigPush } from './on-config-push.js';
import { onDeploymentCreated, type DeploymentCreatedPayload } from './on-deployment-created.js';
import type { GitHubOutbox } from './github-outbox.js';
import type { GitHubStatusReporter, StatusOctokit } from './status-reporter.js';

export interface AppDeps {
  engine: RolloutEngine;
  store: Store;
  reporter: GitHubStatusReporter;
  /** Present in the hub; unit tests of one handler may leave them out. */
  configs?: ConfigRepos;
  auto?: AutoDeployer;
  octokitFor?: (installationId: number) => Promise<StatusOctokit>;
  publicUrl?: () => string;
  /** Where the config check run is queued for GitHub (with `configs`). */
  outbox?: GitHubOutbox;
  /** Pull-request commands; without them comments are ignored. */
  commands?: CommandDeps;
}

interface RepositoryPayload {
  full_name: string;
  name: string;
  clone_url: string;
}

/** The owner's login is the first half of the full name (push payloads may carry an owner object without it). */
function ownerOf(r: RepositoryPayload): string {
  return r.full_name.split('/')[0]!;
}

function repositoryRef(r: RepositoryPayload): RepositoryRef {
  return { fullName: r.full_name, owner: ownerOf(r), name: r.name, cloneUrl: r.clone_url };
}

export function createAppFn(deps: AppDeps): ApplicationFunction {
  return (app) => {
    /** Every event from an installation tells us its owner: its config repo is followed from then on. */
    const follow = async (repository: RepositoryPayload, installation: { id: number } | undefined, log: Logger): Promise<boolean> => {
      if (!installation) {
        log.debug('event without an installation: not for this App');
        return false;
      }
      await deps.configs?.addInstallation(ownerOf(repository), installation.id);
      return true;
    };

    app.on('deployment.created', async (context) => {
      const payload = context.payload as unknown as DeploymentCreatedPayload;
      if (payload.installation) await deps.configs?.addInstallation(payload.repository.owner.login, payload.installation.id);
      await onDeploymentCreated(payload, { ...deps, log: context.log });
    });

    app.on('push', async (context) => {
      const p = context.payload;
      if (!(await follow(p.repository, p.installation, context.log))) return;
      const { configs, auto, outbox, publicUrl } = deps;
      if (configs && outbox && publicUrl) {
        const push = {
          fullName: p.repository.full_name,
          owner: ownerOf(p.repository),
          name: p.repository.name,
          urls: [p.repository.clone_url, p.repository.html_url, p.repository.ssh_url, p.repository.git_url].filter((u): u is string => Boolean(u)),
          sha: p.after,
          installationId: p.installation!.id,
        };
        if ((await onConfigPush(push, { configs, outbox, log: context.log, publicUrl })) !== 'not-config') return;
      }
      if (!p.ref.startsWith('refs/heads/')) return context.log.debug(`push to ${p.ref}: only branches deploy`);
      await auto?.onPush({ repository: repositoryRef(p.repository), installationId: p.installation!.id, branch: p.ref.slice('refs/heads/'.length), sha: p.after });
    });

    app.on('check_suite.completed', async (context) => {
      const p = context.payload;
      if (!(await follow(p.repository, p.installation, context.log))) return;
      const branches = p.check_suite.head_branch ? [p.check_suite.head_branch] : [];
      await deps.auto?.onChecksChanged({ repository: repositoryRef(p.repository), installationId: p.installation!.id, sha: p.check_suite.head_sha, branches });
    });

    app.on('check_run.completed', async (context) => {
      const p = context.payload;
      if (!(await follow(p.repository, p.installation, context.log))) return;
      const branch = p.check_run.check_suite?.head_branch;
      await deps.auto?.onChecksChanged({ repository: repositoryRef(p.repository), installationId: p.installation!.id, sha: p.check_run.head_sha, branches: branch ? [branch] : [] });
    });

    app.on('status', async (context) => {
      const p = context.payload;
      if (!(await follow(p.repository, p.installation, context.log))) return;
      await deps.auto?.onChecksChanged({ repository: repositoryRef(p.repository), installationId: p.installation!.id, sha: p.sha, branches: p.branches.map((b) => b.name) });
    });

    app.on('issue_comment.created', async (context) => {
      const p = context.payload;
      if (!p.issue.pull_request) return context.log.debug('comment on an issue, not a pull request: not a command');
      if (p.comment.user?.type === 'Bot') return context.log.debug('comment by a bot: never a command');
      if (!deps.commands || !(await follow(p.repository, p.installation, context.log))) return;
      const event = {
        repository: repositoryRef(p.repository),
        installationId: p.installation!.id,
        pullRequest: p.issue.number,
        commentId: p.comment.id,
        commentUrl: p.comment.html_url,
        login: p.comment.user?.login ?? p.sender.login,
      };
      await onPullRequestComment(event, p.comment.body, { ...deps.commands, log: context.log });
    });

    app.on(['installation.created', 'installation.new_permissions_accepted', 'installation.unsuspend'], async (context) => {
      const account = context.payload.installation.account as { login?: string } | null;
      if (account?.login) await deps.configs?.addInstallation(account.login, context.payload.installation.id);
    });

    app.on(['installation.deleted', 'installation.suspend'], async (context) => {
      const account = context.payload.installation.account as { login?: string } | null;
      if (account?.login) deps.configs?.removeInstallation(account.login);
      context.log.info(`App ${context.payload.action} for ${account?.login ?? 'an account'}: its repositories no longer deploy`);
    });
  };
}
