/**
 * Creating a GitHub Deployment and starting its rollout, as one effect of the GitHub outbox
 * (`bitenvoy:create-deployment`, github-outbox.ts). The decision to deploy is one row, written in one transaction:
 * the deployment's body (its payload names the rollout id), the repository, and what the `deployment.created` webhook
 * must plan with (the intent: a rollback's servers, a refusal). The outbox's sender then, for as long as it takes:
 *
 * 1. keeps the intent where the webhook reads it (before GitHub hears of the deployment, so the webhook finds it);
 * 2. if an earlier POST may have been taken (no answer, a reset connection, a 5xx, a hub killed mid-request), lists
 *    GitHub's deployments of that commit and environment and adopts the one whose payload names this rollout;
 * 3. otherwise creates it, having first noted in the row that a POST is going out;
 * 4. records GitHub's answer in the row, then the audit entry it carries, then starts the rollout from the same
 *    payload the webhook carries — whichever of the two is handled first starts it, exactly once.
 *
 * A row whose rollout already exists (the webhook ran it, or a restart queued the same planned rollback twice) is
 * done without a request. A queued create is sent even if its commit became stale meanwhile (a newer deployment of
 * the environment was asked for): the rows of an installation go out in order, so the newer one reaches GitHub
 * after it, and the engine's rules for a busy environment decide — the newer request replaces a waiting one, and a
 * planned rollback does not start under a newer deployment.
 *
 * @example
 * const outbox = new GitHubOutbox({ …, kinds: { [CREATE_DEPLOYMENT_EFFECT]: createDeploymentKind({ store, startDeployment }) } });
 * const outcome = await outbox.enqueueAndWait({ installationId, route: CREATE_DEPLOYMENT_EFFECT, params: { ...createDeploymentParams(request) } });
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { recordAudit, type AuditEntry } from '../audit/audit-log.js';
import { keys, type DeploymentRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { findGitHubDeployment, postGitHubDeployment, rolloutIdFrom, type CreatedGitHubDeployment } from './create-github-deployment.js';
import type { EffectKind } from './github-outbox.js';
import { refusedByGitHub } from './judge-github-failure.js';
import { ROLLOUT_INTENT_TTL_MS, rolloutIntentKey, type DeploymentCreatedPayload, type DeploymentOutcome, type RolloutIntent } from './on-deployment-created.js';

export const CREATE_DEPLOYMENT_EFFECT = 'bitenvoy:create-deployment';

/** Everything the create and the start need, as stored in the outbox row. */
export interface CreateDeploymentParams {
  installationId: number;
  owner: string;
  repo: string;
  repository: { fullName: string; cloneUrl: string };
  rolloutId: string;
  /** The body of `POST /repos/{owner}/{repo}/deployments` (githubDeploymentBody): its payload names `rolloutId`. */
  body: Record<string, unknown> & { ref: string; environment: string };
  intent?: RolloutIntent;
  /** The rollout is recorded as `error` with this (a deployment made knowing it cannot run). */
  refuseWith?: string;
  /** Written once GitHub created the deployment, before its rollout starts. */
  audit?: Omit<AuditEntry, 'at'>;
  /** A POST went out and its answer may be lost: look for the deployment before creating one. */
  attempted?: boolean;
  /** GitHub's answer, once it created the deployment. */
  created?: CreatedGitHubDeployment;
}

/** What the effect's sender reports to whoever waits for it. */
export interface CreateDeploymentResult {
  rolloutId: string;
  /** The GitHub Deployment's id (absent when the row found its rollout already made by someone else). */
  githubDeploymentId?: number;
  outcome: DeploymentOutcome;
}

export interface CreateDeploymentDeps {
  store: Store;
  /** Starts (or, with `refuseWith`, records as `error`) the rollout of a GitHub Deployment: the webhook's handler. */
  startDeployment: (payload: DeploymentCreatedPayload, options?: { refuseWith?: string }) => Promise<DeploymentOutcome>;
}

/**
 * The outbox kind, bound to the hub's store and its handler of `deployment.created`.
 *
 * @example
 * const kind = createDeploymentKind({ store, startDeployment: (payload, options) => onDeploymentCreated(payload, deps, options) });
 */
export function createDeploymentKind(deps: CreateDeploymentDeps): EffectKind {
  return {
    async run(octokit, params, progress): Promise<CreateDeploymentResult> {
      const p = checkParams(params);
      const { rolloutId, owner, repo } = p;
      let created = p.created;
      if (!created) {
        const existing = await deps.store.get<DeploymentRecord>(keys.deployment(rolloutId));
        if (existing) return { rolloutId, ...(existing.github ? { githubDeploymentId: existing.github.deploymentId } : {}), outcome: 'duplicate' };
        // Kept before GitHub hears of the deployment: its webhook may be handled before this returns.
        if (p.intent) await deps.store.set<RolloutIntent>(rolloutIntentKey(rolloutId), p.intent, ROLLOUT_INTENT_TTL_MS);
        if (p.attempted) created = await findGitHubDeployment(octokit, { owner, repo, sha: p.body.ref, environment: p.body.environment, rolloutId });
        if (!created) {
          if (!p.attempted) await progress({ ...params, attempted: true });
          try {
            created = await postGitHubDeployment(octokit, owner, repo, p.body);
          } catch (err) {
            // GitHub said no (a rate limit, say): there is nothing to look for before the next attempt.
            if (refusedByGitHub(err)) await progress({ ...params, attempted: false });
            throw err;
          }
        }
        if (p.audit) await recordAudit(deps.store, p.audit);
        await progress({ ...params, attempted: true, created, audit: undefined });
      }
      const payload: DeploymentCreatedPayload = {
        deployment: created,
        repository: { full_name: p.repository.fullName, name: repo, owner: { login: owner }, clone_url: p.repository.cloneUrl },
        installation: { id: p.installationId },
      };
      let outcome: DeploymentOutcome;
      try {
        outcome = await deps.startDeployment(payload, p.refuseWith !== undefined ? { refuseWith: p.refuseWith } : {});
      } catch (err) {
        // The deployment exists on GitHub: starting its rollout is retried (never dropped as a refusal would be).
        throw new Error(`GitHub created deployment ${created.id}, but starting its rollout ${rolloutId} failed: ${(err as Error).message}`, { cause: err });
      }
      return { rolloutId, githubDeploymentId: created.id, outcome };
    },
    describe: (params) => {
      const body = params.body as { ref?: unknown; environment?: unknown } | undefined;
      const sha = typeof body?.ref === 'string' ? body.ref.slice(0, 7) : '?';
      return `the GitHub Deployment of ${String(params.owner)}/${String(params.repo)}@${sha} to ${String(body?.environment)} (rollout ${String(params.rolloutId)})`;
    },
    permission: 'Deployments: write',
  };
}

/** A row may come from another release: what the requests and the start need must be there and well-formed. */
function checkParams(params: Record<string, unknown>): CreateDeploymentParams {
  const body = params.body as Partial<CreateDeploymentParams['body']> | undefined;
  const repository = params.repository as Partial<CreateDeploymentParams['repository']> | undefined;
  const created = params.created as Partial<CreatedGitHubDeployment> | undefined;
  const ok =
    typeof params.installationId === 'number' &&
    typeof params.owner === 'string' &&
    typeof params.repo === 'string' &&
    typeof repository?.fullName === 'string' &&
    typeof repository.cloneUrl === 'string' &&
    typeof params.rolloutId === 'string' &&
    typeof body?.ref === 'string' &&
    typeof body.environment === 'string' &&
    rolloutIdFrom(body.payload) === params.rolloutId &&
    (created === undefined || typeof created.id === 'number');
  if (!ok) {
    throw new BitEnvoyError('BE_INTERNAL', `a stored GitHub Deployment to create (rollout ${String(params.rolloutId)}) lacks its installation, repository, rollout id or body; deploy that commit again`);
  }
  return params as unknown as CreateDeploymentParams;
}
