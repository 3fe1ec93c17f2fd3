/**
 * What a message tells people to do next — continue a paused rollout, release a lock — said the way that works in
 * the mode the hub runs in: in local mode there are no pull requests to comment on, so the CLI (and the status page)
 * is named; in GitHub mode the pull-request command as well.
 *
 * @example
 * howToUnlock('local', { repository: 'acme/shop', environment: 'production' });
 * // '`bitenvoy unlock -r acme/shop -e production` releases it'
 * howToContinue('github', { id: 'dep_1a2b', environment: 'production' });
 * // 'continue it on its page, with /continue production or `bitenvoy continue dep_1a2b`'
 */

/** `github` with GitHub App credentials (pull-request commands work), `local` without. */
export type HubMode = 'github' | 'local';

/** "`…` releases it": the lock of one environment, or (no environment) the repository's global lock. */
export function howToUnlock(mode: HubMode, lock: { repository: string; environment?: string | undefined }): string {
  const cli = `\`bitenvoy unlock -r ${lock.repository} ${lock.environment ? `-e ${lock.environment}` : '--global'}\``;
  const command = `\`/unlock ${lock.environment ?? '--global'}\``;
  return mode === 'github' ? `${command} on a pull request or ${cli} releases it` : `${cli} releases it`;
}

/** "continue it …": a rollout waiting at a manual gate between batches. */
export function howToContinue(mode: HubMode, dep: { id: string; environment: string }): string {
  const cli = `\`bitenvoy continue ${dep.id}\``;
  return mode === 'github' ? `continue it on its page, with /continue ${dep.environment} or ${cli}` : `continue it on its page or with ${cli}`;
}
