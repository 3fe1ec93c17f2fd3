/**
 * A push to the config repo: every branch's new commit gets a "BitEnvoy config" Check Run (so a pull request that
 * edits the config shows its errors inline), and the config in force is refreshed at once — only the default
 * branch (or BITENVOY_CONFIG_BRANCH) ever takes effect, and only when it validates. The check run goes through the
 * GitHub outbox: it reaches GitHub even if GitHub fails for a while or the hub is restarted meanwhile.
 */
import type { Logger } from '../../lib/logger.js';
import type { ConfigRepos } from '../config/config-repos.js';
import { CONFIG_CHECK_RUN_EFFECT, configCheckRunEffect } from './config-check-run.js';
import type { GitHubOutbox } from './github-outbox.js';

export interface ConfigPush {
  fullName: string;
  owner: string;
  name: string;
  urls: string[];
  sha: string;
  installationId: number;
}

export type ConfigPushOutcome = 'not-config' | 'deleted' | 'checked';

export async function onConfigPush(
  push: ConfigPush,
  deps: { configs: ConfigRepos; outbox: Pick<GitHubOutbox, 'enqueue'>; log: Logger; publicUrl: () => string },
): Promise<ConfigPushOutcome> {
  const repo = deps.configs.configRepoFor(push);
  if (!repo) return 'not-config';
  if (/^0+$/.test(push.sha)) return 'deleted';
  const log = deps.log.child({ repository: push.fullName, sha: push.sha });
  const status = await repo.refresh();
  log.info(`config repo pushed: ${status.sha ? `${status.sha.slice(0, 7)} in force` : 'no valid config in force'}${status.rejected ? `, ${status.rejected.sha.slice(0, 7)} rejected` : ''}`);
  const result = await repo.validateCommit(push.sha);
  const { params, conclusion } = configCheckRunEffect({ owner: push.owner, repo: push.name, headSha: push.sha, result, detailsUrl: `${deps.publicUrl()}/` });
  await deps.outbox.enqueue(push.installationId, CONFIG_CHECK_RUN_EFFECT, { ...params });
  log.info(`"BitEnvoy config" check on ${push.sha.slice(0, 7)}: ${conclusion}${result.errors.length ? ` (${result.errors.length} errors)` : ''}, queued for GitHub`);
  return 'checked';
}
