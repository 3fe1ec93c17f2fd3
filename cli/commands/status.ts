/**
 * `bitenvoy status`: for every repository × environment of the config in force (or those named), the commit live
 * there, the newest deployment when it is another, a rollout running, paused or waiting, and a lock — what `/status`
 * answers on a pull request, read from the hub's admin API (`GET /api/v1/environments`, a page at a time).
 *
 * @example
 * bitenvoy status -r acme/shop
 * // demo/shop → staging
 * //   live     4f2c1a9 (main) since 2026-12-05 08:40 UTC, by api — dep_1a2b3c4d5e6f
 * //   commit   Fix the checkout total — Ada Lovelace
 * //   lock     🔒 `staging` is locked by @alice since 2026-12-05 08:41 UTC: db migration
 */
import type { DeploymentBrief, EnvironmentStatus } from '../../app/rollout/environment-status.js';
import { describeLock } from '../../app/rollout/environment-locks.js';
import { oneLine } from '../../lib/strip-controls.js';
import { print, printJson } from '../output.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseCommand } from './parse-options.js';

interface StatusPage {
  mode?: string;
  environments: EnvironmentStatus[];
  next?: string;
}

export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseCommand('status', args);
  const target = await resolveAdminTarget(values.hub, values.token);
  const environments: EnvironmentStatus[] = [];
  let after: string | undefined;
  do {
    const query = new URLSearchParams({
      ...(values.repository ? { repository: values.repository } : {}),
      ...(values.environment ? { environment: values.environment } : {}),
      limit: '200',
      ...(after ? { after } : {}),
    });
    const page = await adminRequest<StatusPage>(target, 'GET', `/environments?${query}`);
    environments.push(...page.environments);
    after = page.next;
  } while (after);
  if (values.json) {
    printJson(environments, 2);
    return 0;
  }
  if (!environments.length) {
    print('no repository is configured: add repositories/<owner>/<name>.yml to the config repo');
    return 0;
  }
  // Every value is the hub's: one line each, without control characters.
  print(environments.map(describe).join('\n\n'));
  return 0;
}

function describe(s: EnvironmentStatus): string {
  const lines = [`${text(s.repository)} → ${text(s.environment)}`];
  lines.push(s.live ? `  live     ${commit(s.live)} since ${when(s.live.finishedAt ?? s.live.createdAt)}, by ${who(s.live)} — ${text(s.live.deploymentId)}` : '  live     nothing deployed yet');
  if (s.live?.commit) lines.push(`  commit   ${text(s.live.commit.title)}${s.live.commit.author ? ` — ${text(s.live.commit.author)}` : ''}`);
  if (s.latest && s.latest.deploymentId !== s.rollout?.deploymentId && s.latest.deploymentId !== s.waiting?.deploymentId) {
    lines.push(`  latest   ${commit(s.latest)} ${text(s.latest.state)}: ${text(s.latest.description)} — ${text(s.latest.deploymentId)}`);
  }
  if (s.rollout) lines.push(`  ${s.rollout.gate ? 'paused ' : 'rollout'}  ${commit(s.rollout)} ${text(s.rollout.state)}: ${text(s.rollout.description)} — ${text(s.rollout.deploymentId)}`);
  if (s.waiting) lines.push(`  waiting  ${commit(s.waiting)}: ${text(s.waiting.description)} — ${text(s.waiting.deploymentId)}`);
  if (s.lock) lines.push(`  lock     🔒 ${text(describeLock(s.lock))}`);
  return lines.join('\n');
}

/** `4f2c1a9 (main)`: the commit, the ref asked for when it was not the SHA itself, `rollback` when it brought one back. */
function commit(d: DeploymentBrief): string {
  const notes = [...(d.ref && d.ref.toLowerCase() !== d.sha.toLowerCase() ? [text(d.ref)] : []), ...(d.rollbackOf ? ['rollback'] : [])];
  return `${text(d.sha).slice(0, 7)}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

function who(d: DeploymentBrief): string {
  return `${text(d.createdBy)}${d.trigger && d.trigger !== d.createdBy ? ` (${text(d.trigger)})` : ''}`;
}

/** `2026-12-05T08:40:12.345Z` → `2026-12-05 08:40 UTC`. */
function when(iso: string): string {
  return text(iso).replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

function text(value: unknown): string {
  return oneLine(String(value ?? ''));
}
