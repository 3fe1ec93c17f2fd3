/**
 * What the deploy page and its posts ask before a deployment (deploy-form-routes.ts): what holds a commit back —
 * the guard rails every rollout passes, and in GitHub mode its checks with the `--force` rule (deploy-form-force.ts)
 * — and the plan the engine would make of it, with the first servers of each batch named.
 *
 * @example
 * const { refusals, hold } = await deployBlockers(deps, target, sha, false, true, session.who);
 * const plan = await readPlan(deps, target, sha, undefined, earlier, session.who);
 */
import type { Environment } from '../../config-schema/types.generated.js';
import { BitEnvoyError } from '../../lib/errors.js';
import type { DeploymentRecord } from '../model.js';
import type { HubMode } from '../rollout/action-hints.js';
import { guardRailRefusals } from '../rollout/guard-rails.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import { agentsById } from '../store/agent-queries.js';
import type { Store } from '../store/store.js';
import type { SignedInAs } from './dashboard-sessions.js';
import type { CandidateChecks, CandidateSource } from './deploy-form-candidates.js';
import { checksHold, type ChecksHold } from './deploy-form-force.js';
import { PLAN_NAMES_SHOWN, type PlanView } from './deploy-form-html.js';

export interface PlanDeps {
  store: Store;
  engine: RolloutEngine;
  mode: HubMode;
  candidates: CandidateSource;
}

/** The environment a deploy page is about, as its config says now. */
export interface Target {
  repository: string;
  environment: string;
  env: Environment;
  gitUrl: string | undefined;
  path: string;
}

/**
 * What holds a deployment of `sha` back, in the order a person can fix them: the guard rails every rollout passes
 * (lock, promotion order) and, in GitHub mode, its checks — the evaluation `/deploy` makes, with its `--force` rule
 * for `who` (deploy-form-force.ts). A rollback is not held by checks.
 */
export async function deployBlockers(
  deps: PlanDeps,
  target: Target,
  sha: string,
  rollback: boolean,
  fresh: boolean,
  who: SignedInAs | undefined,
): Promise<{ refusals: string[]; hold?: ChecksHold }> {
  const refusals = await guardRailRefusals(deps.store, { repository: target.repository, environment: target.environment, sha, after: target.env.after, rollback, mode: deps.mode });
  if (rollback) return { refusals };
  const hold = checksHold({ env: target.env, environment: target.environment, who, checks: await checksOf(deps, target, sha, fresh) });
  return { refusals, ...(hold ? { hold } : {}) };
}

export function checksOf(deps: PlanDeps, target: Target, sha: string, fresh = false): Promise<CandidateChecks> {
  return deps.candidates.checks({ repository: target.repository, sha, required: target.env.requiredChecks ?? 'all', fresh });
}

/** The plan of deploying (or rolling back to) `sha` now: the engine's preview, named servers, and every blocker. */
export async function readPlan(deps: PlanDeps, target: Target, sha: string, rollbackOf: DeploymentRecord | undefined, earlier: DeploymentRecord[], who: SignedInAs | undefined): Promise<PlanView> {
  const rollbackTo = rollbackOf ? earlier.find((d) => d.sha === sha && d.sha !== rollbackOf.sha) : undefined;
  const { refusals, hold } = await deployBlockers(deps, target, sha, rollbackTo !== undefined, false, who);
  // The checks' hold is listed last, and apart: one of the forceUsers may deploy past it (and nothing else).
  const blockers = [...refusals];
  if (rollbackOf && !rollbackTo) blockers.push(`\`${sha.slice(0, 7)}\` is not an earlier successful deployment of \`${target.environment}\` other than the one live now: roll back only to one listed below`);
  const checks = await checksOf(deps, target, sha).catch(unreadable);
  const [owner, repo] = target.repository.split('/') as [string, string];
  // Planned as the deployment it would be: a GitHub one is fetched from GitHub, not a configured `git` URL. A full
  // SHA is never resolved, so the preview asks no remote.
  const link = {
    ...(target.gitUrl ? {} : { github: { installationId: 0, owner, repo, deploymentId: 0, cloneUrl: `https://github.com/${target.repository}.git` } }),
    ...(rollbackTo && rollbackOf ? { rollbackOf: rollbackOf.id } : {}),
  };
  try {
    const preview = await deps.engine.previewDeployment({ repository: target.repository, ref: sha, environment: target.environment }, link);
    const shown = preview.batches.flatMap((b) => b.agentIds.slice(0, PLAN_NAMES_SHOWN));
    const names = new Map([...(await agentsById(deps.store, shown))].map(([id, a]) => [id, a.name]));
    if (preview.state === 'error') blockers.push(preview.description);
    return { sha, checks, blockers, ...(hold ? { hold } : {}), ...(rollbackTo ? { rollbackTo } : {}), preview, names };
  } catch (err) {
    if (!(err instanceof BitEnvoyError)) throw err;
    return { sha, checks, blockers: [...blockers, err.message], ...(hold ? { hold } : {}), ...(rollbackTo ? { rollbackTo } : {}) };
  }
}

export function unreadable(err: unknown): CandidateChecks {
  return { verdict: 'pending', description: `checks could not be read: ${err instanceof BitEnvoyError ? err.message : 'GitHub did not answer'}` };
}
