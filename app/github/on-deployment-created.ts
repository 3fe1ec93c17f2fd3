/**
 * A GitHub `deployment.created` event — made by BitEnvoy, another tool or a person through the API — becomes a
 * rollout exactly once: webhook redeliveries find the deployment id already taken.
 */
import { isErrorCode } from '../../lib/errors.js';
import { recordAudit } from '../audit/audit-log.js';
import { truncate } from '../rollout/describe-deployment.js';
import type { Logger } from '../../lib/logger.js';
import { keys, type DeploymentRecord, type DeploymentTrigger, type GitHubDeploymentLink } from '../model.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import type { Store } from '../store/store.js';
import { requesterFrom, rolloutIdFrom } from './create-github-deployment.js';
import type { GitHubStatusReporter } from './status-reporter.js';

export interface DeploymentCreatedPayload {
  deployment: { id: number; sha: string; ref: string; environment: string; payload?: unknown; creator?: { login?: string } | null };
  repository: { full_name: string; name: string; owner: { login: string }; clone_url: string };
  installation?: { id: number };
}

/**
 * What the hub decided about a GitHub Deployment before creating it, keyed by the rollout id its payload names: the
 * webhook may arrive before the hub's own call returns, and must plan the same rollout.
 */
export interface RolloutIntent {
  refuseWith?: string;
  /** A rollback: of this deployment (automatic) or away from it (`/rollback`). */
  rollbackOf?: string;
  /** An automatic rollback goes only to these servers, the ones that had moved; a retry, to the ones that failed. */
  onlyAgents?: string[];
}

/** Intents live a week: long enough for any webhook delivery, short enough not to pile up. */
export const ROLLOUT_INTENT_TTL_MS = 7 * 24 * 3600_000;

export const rolloutIntentKey = (rolloutId: string) => `rollout-intent:${rolloutId}`;

/**
 * `in-progress`: another attempt (this deployment's webhook, the hub's own call, or one that died midway) holds the
 * claim and its rollout does not exist yet. A claim stays taken for {@link CLAIM_STALE_MS}; after that a new attempt
 * takes it over, so a hub killed between claiming and planning cannot leave the deployment without a rollout.
 */
export type DeploymentOutcome = 'started' | 'duplicate' | 'in-progress' | 'not-ours' | 'refused';

/** How long a claim on a GitHub deployment whose rollout was never made blocks other attempts (planning takes seconds). */
export const CLAIM_STALE_MS = 2 * 60_000;

/** `pending:<ISO time>` while an attempt plans the rollout; the rollout's id once it exists. */
function claimIsStale(value: string, now: number): boolean {
  if (value === 'pending') return true; // written by an older release: its attempt is long gone
  const at = value.startsWith('pending:') ? Date.parse(value.slice('pending:'.length)) : NaN;
  return Number.isFinite(at) && now - at > CLAIM_STALE_MS;
}

export async function onDeploymentCreated(
  payload: DeploymentCreatedPayload,
  deps: { engine: RolloutEngine; store: Store; reporter: GitHubStatusReporter; log: Logger },
  /** A deployment the hub created knowing it cannot run (checks never reported): record it as `error` with this. */
  options: { refuseWith?: string } = {},
): Promise<DeploymentOutcome> {
  const { deployment, repository } = payload;
  const log = deps.log.child({ githubDeployment: deployment.id, repository: repository.full_name });
  if (!payload.installation) {
    log.debug('deployment event without an installation: not for this App');
    return 'not-ours';
  }
  const claimKey = `github-deployment:${repository.full_name}:${deployment.id}`;
  let claimed = false;
  let busy = false;
  const now = Date.now();
  await deps.store.update<string>(claimKey, (existing) => {
    if (existing && !claimIsStale(existing, now)) {
      busy = existing.startsWith('pending');
      return undefined;
    }
    claimed = true;
    return `pending:${new Date(now).toISOString()}`;
  });
  if (!claimed) {
    log.info(busy ? 'deployment being handled by another attempt: nothing to do here' : 'deployment already handled (webhook redelivery or our own deployment): nothing to do');
    return busy ? 'in-progress' : 'duplicate';
  }
  const github = { installationId: payload.installation.id, owner: repository.owner.login, repo: repository.name, deploymentId: deployment.id, cloneUrl: repository.clone_url };
  // Deployments BitEnvoy made name their rollout: the webhook and the hub's own call start the same one. A payload
  // naming a rollout that already exists (another tool copying ours) gets a new id instead.
  const wanted = rolloutIdFrom(deployment.payload);
  const existing = wanted ? await deps.store.get<DeploymentRecord>(keys.deployment(wanted)) : undefined;
  if (existing?.github?.deploymentId === deployment.id && existing.repository === repository.full_name) {
    // A claim taken over from an attempt that died after planning this very rollout: it exists, and is enough.
    await deps.store.set(claimKey, existing.id);
    log.info({ deploymentId: existing.id }, 'deployment already has its rollout (an earlier attempt planned it): nothing to do');
    return 'duplicate';
  }
  const id = wanted && !existing ? wanted : undefined;
  // The hub may have created this deployment knowing it cannot run; the webhook can arrive before its own call.
  const intent = id ? await deps.store.get<RolloutIntent>(rolloutIntentKey(id)) : undefined;
  const refuseWith = options.refuseWith ?? intent?.refuseWith;
  if (refuseWith !== undefined) {
    await refuse(refuseWith, id, payload, github, deps);
    return 'refused';
  }
  try {
    // Only our own rollout ids are trusted to carry who asked; anyone else's deployment is by its creator.
    const requester = id ? requesterFrom(deployment.payload) : { forced: false };
    const by = requester.actor ?? deployment.creator?.login;
    const dep = await deps.engine.createDeployment(
      { repository: repository.full_name, ref: deployment.sha, environment: deployment.environment },
      by ? `github:${by}` : 'github',
      {
        github,
        ...(id ? { id } : {}),
        ...(requester.forced ? { forced: true } : {}),
        ...(id ? { trigger: triggerFrom(deployment.payload) } : { trigger: 'github' as const }),
        ...(intent?.rollbackOf ? { rollbackOf: intent.rollbackOf } : {}),
        ...(intent?.onlyAgents ? { onlyAgents: intent.onlyAgents } : {}),
      },
    );
    await deps.store.set(`github-deployment:${repository.full_name}:${deployment.id}`, dep.id);
    log.info({ deploymentId: dep.id }, `GitHub deployment ${deployment.id} → rollout ${dep.id}`);
    // Deployments BitEnvoy made are recorded by whoever made them (a command, auto-deploy); others are recorded here.
    if (!id) {
      await recordAudit(deps.store, { actor: by ?? 'github', action: 'deploy', repository: repository.full_name, environment: deployment.environment, sha: deployment.sha, outcome: 'started', deploymentId: dep.id, source: `GitHub deployment ${deployment.id}` });
    }
    return 'started';
  } catch (err) {
    if (isErrorCode(err, 'BE_REPOSITORY_NOT_CONFIGURED')) {
      log.debug('repository not configured for BitEnvoy: ignoring its deployment');
      return 'not-ours';
    }
    // A person is waiting on this deployment in GitHub: say why it cannot run.
    const message = err instanceof Error ? err.message : String(err);
    log.warn({ err }, `GitHub deployment ${deployment.id} cannot run: ${message}`);
    await refuse(message, id, payload, github, deps);
    return 'refused';
  }
}

/** Records a deployment that cannot run as an `error` rollout, so its GitHub status and page say why. */
async function refuse(
  message: string,
  id: string | undefined,
  payload: DeploymentCreatedPayload,
  github: GitHubDeploymentLink,
  deps: { store: Store; reporter: GitHubStatusReporter },
): Promise<void> {
  const { deployment, repository } = payload;
  const now = new Date().toISOString();
  const record: DeploymentRecord = {
    id: id ?? `dep_gh${deployment.id}`,
    repository: repository.full_name,
    environment: deployment.environment,
    ref: deployment.ref,
    sha: deployment.sha,
    state: 'error',
    description: truncate(message),
    strategy: '',
    group: '',
    configSha: '',
    batches: [],
    currentBatch: -1,
    skipped: [],
    createdBy: deployment.creator?.login ? `github:${deployment.creator.login}` : 'github',
    createdAt: now,
    updatedAt: now,
    finishedAt: now,
    github,
  };
  // Kept like any deployment, so the status's link opens a page that says why.
  await deps.store.set(keys.deployment(record.id), record);
  await deps.store.set(`github-deployment:${repository.full_name}:${deployment.id}`, record.id);
  deps.reporter.changed(record);
}

/** What a BitEnvoy-made deployment's payload says started it (one of ours, else "other"). */
function triggerFrom(payload: unknown): DeploymentTrigger {
  const trigger = (payload as { bitenvoy?: { trigger?: unknown } } | null | undefined)?.bitenvoy?.trigger;
  return trigger === 'auto' || trigger === 'command' || trigger === 'api' || trigger === 'rollback' || trigger === 'dashboard' ? trigger : 'other';
}
