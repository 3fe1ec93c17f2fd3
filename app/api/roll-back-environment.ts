/**
 * Rolling an environment back to an earlier successful revision, as `bitenvoy rollback` (the admin API) and the status
 * pages' "Roll back" button ask for it: the guard rails first (a lock refuses it; the promotion order does not hold a
 * rollback), then what runs now and the success to go back to, then a new deployment through the same path every
 * deployment takes — a GitHub Deployment in GitHub mode for a repository without `git:`, the engine otherwise — audited
 * under the person or surface that asked.
 *
 * @example
 * const { answer, from, to } = await rollBackEnvironment(deps, { repository: 'acme/shop', environment: 'production', to: '4f2c1a9', actor: 'octocat', via: 'rollback from the status page by octocat' });
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { CreateDeploymentRequest } from '../../lib/protocol.js';
import { recordAudit } from '../audit/audit-log.js';
import type { QueuedGitHubDeployment } from '../github/deploy-through-github.js';
import { keys, type DeploymentRecord } from '../model.js';
import type { HubMode } from '../rollout/action-hints.js';
import { guardRailRefusals } from '../rollout/guard-rails.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import { lastGoodOtherThan, latestSuccessful, latestSuccessfulOfCommit } from '../store/deployment-queries.js';
import type { Store } from '../store/store.js';

/** Starts a deployment through a GitHub Deployment (GitHub mode, a repository without `git:`); undefined otherwise. */
export type DeployThroughGitHub = (
  req: CreateDeploymentRequest,
  actor: string,
  options?: { rollbackOf?: string; description?: string; forced?: boolean; person?: string },
) => Promise<DeploymentRecord | QueuedGitHubDeployment> | undefined;

export interface RollbackDeps {
  store: Store;
  engine: RolloutEngine;
  mode: HubMode;
  deployThroughGitHub?: DeployThroughGitHub;
}

export interface RollbackRequest {
  repository: string;
  environment: string;
  /** A deployment id (`dep_…`) or a commit (SHA or prefix) that succeeded there; absent: the last good one before. */
  to?: string;
  /** Who asked, as the audit log records them: `api`, a GitHub login, an operator, `admin`. */
  actor: string;
  /** How the deployment describes itself, e.g. `rollback through the admin API`. */
  via: string;
}

export interface RollbackStarted {
  answer: DeploymentRecord | QueuedGitHubDeployment;
  from: { deploymentId: string; sha: string };
  to: { deploymentId: string; sha: string };
}

export async function rollBackEnvironment(deps: RollbackDeps, req: RollbackRequest): Promise<RollbackStarted> {
  const { store } = deps;
  const { repository, environment, actor } = req;
  // Asked before anything is made (in GitHub mode, before a GitHub Deployment); the engine asks again where it starts.
  const refusals = await guardRailRefusals(store, { repository, environment, sha: '', rollback: true, mode: deps.mode });
  if (refusals.length) throw new BitEnvoyError('BE_GUARD_RAIL', `cannot roll back \`${environment}\`: ${refusals.join('; ')}`, { details: { refusals } });
  const current = await latestSuccessful(store, repository, environment);
  const target = await rollbackTarget(store, repository, environment, current, req.to);
  const description = `${req.via}: back to ${target.sha.slice(0, 7)} from ${current!.sha.slice(0, 7)}`;
  const deployment = { repository, ref: target.sha, environment };
  const answer =
    (await deps.deployThroughGitHub?.(deployment, actor, { rollbackOf: current!.id, description: `BitEnvoy: ${description}` })) ??
    (await deps.engine.createDeployment(deployment, actor, { rollbackOf: current!.id, trigger: 'rollback' }));
  const entry = { actor, action: 'rollback' as const, repository, environment, sha: target.sha, deploymentId: answer.id };
  if ('queued' in answer) await recordAudit(store, { ...entry, outcome: 'queued', detail: answer.message });
  else await recordAudit(store, { ...entry, outcome: answer.state === 'error' ? 'error' : 'started', detail: answer.state === 'error' ? answer.description : description });
  return { answer, from: { deploymentId: current!.id, sha: current!.sha }, to: { deploymentId: target.id, sha: target.sha } };
}

/**
 * The successful deployment a rollback brings back: the one `to` names (a deployment id, or a commit by SHA or
 * prefix), else the newest success of another commit than the live one — what `/rollback` goes back to.
 */
export async function rollbackTarget(store: Store, repository: string, environment: string, current: DeploymentRecord | undefined, to: string | undefined): Promise<DeploymentRecord> {
  if (!current) throw new BitEnvoyError('BE_CONFLICT', `\`${environment}\` of ${repository} has never had a successful deployment: there is nothing to roll back to`);
  let target: DeploymentRecord | undefined;
  if (to === undefined) {
    target = await lastGoodOtherThan(store, repository, environment, current.sha);
    if (!target) throw new BitEnvoyError('BE_CONFLICT', `\`${environment}\` has no earlier successful commit to roll back to (only \`${current.sha.slice(0, 7)}\` ever succeeded there)`);
  } else if (to.startsWith('dep_')) {
    target = await store.get<DeploymentRecord>(keys.deployment(to));
    if (!target || target.repository !== repository || target.environment !== environment) {
      throw new BitEnvoyError('BE_NOT_FOUND', `no deployment ${to} of ${repository} to \`${environment}\`; \`bitenvoy status -r ${repository}\` shows what runs there, \`GET /api/v1/deployments\` lists deployments`);
    }
    if (target.state !== 'success') throw new BitEnvoyError('BE_CONFLICT', `deployment ${to} ended \`${target.state}\`: a rollback goes back only to a deployment that succeeded`);
  } else {
    target = await latestSuccessfulOfCommit(store, repository, environment, to);
    if (!target) throw new BitEnvoyError('BE_NOT_FOUND', `no successful deployment of \`${to}\` on \`${environment}\` of ${repository}: a rollback goes back only to a commit that succeeded there`);
  }
  if (target.sha === current.sha) {
    throw new BitEnvoyError('BE_CONFLICT', `\`${environment}\` runs \`${current.sha.slice(0, 7)}\` already (deployment ${current.id}): nothing to roll back; \`bitenvoy deploy\` deploys it again`);
  }
  return target;
}

