/**
 * The admin API's environment actions — what `/status`, `/lock`, `/unlock` and `/rollback` do on a pull request,
 * without one (`bitenvoy status`, `lock`, `unlock`, `rollback`): so local mode needs no PR comments. The repository ×
 * environment pairs are those of the config in force; every action passes the guard rails PR commands pass and is
 * audited with actor `api`.
 *
 * @example
 * addEnvironmentRoutes(router, { store, engine, configs, mode: 'local', publicUrl: () => url });
 * // GET  /api/v1/environments?repository=acme/shop
 * // POST /api/v1/environments/lock     { "repository": "acme/shop", "environment": "production", "reason": "db migration", "for": "2h" }
 * // POST /api/v1/environments/unlock   { "repository": "acme/shop", "environment": "production" }
 * // POST /api/v1/environments/rollback { "repository": "acme/shop", "environment": "production", "to": "4f2c1a9" }
 */
import type { Router } from '@koa/router';
import type { Environment } from '../../config-schema/types.generated.js';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { parseDuration } from '../../lib/parse-duration.js';
import { withoutCredentialsIn } from '../../lib/redact-url.js';
import { recordAudit, type AuditEntry } from '../audit/audit-log.js';
import type { ConfigInForce } from '../config/config-repo.js';
import { howToUnlock, type HubMode } from '../rollout/action-hints.js';
import { activeLock, describeLock, releaseLock, takeLock } from '../rollout/environment-locks.js';
import { readEnvironmentStatus } from '../rollout/environment-status.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import type { Store } from '../store/store.js';
import { environmentActionBody, rollbackBody } from './body-schemas.js';
import { readJsonBody } from './read-json-body.js';
import { rollBackEnvironment, type DeployThroughGitHub } from './roll-back-environment.js';
import { validateBody } from './validate-body.js';

export type { DeployThroughGitHub } from './roll-back-environment.js';

export interface EnvironmentRouteDeps {
  store: Store;
  engine: RolloutEngine;
  /** The configs in force (one per installation owner in GitHub mode) and the one of a repository. */
  configs?: { inForce(): ConfigInForce[]; current(repository: string): ConfigInForce | undefined };
  mode: HubMode;
  publicUrl: () => string;
  /** A lock was released: automatic deploys it held back look at their branch again (as after a PR's `/unlock`). */
  onUnlocked?: (repository: string, environment: string | undefined) => Promise<string[]>;
  deployThroughGitHub?: DeployThroughGitHub;
  log?: Logger;
}

/** Pairs a status page holds: the default, and the most one request may ask for. */
const STATUS_PAGE_DEFAULT = 50;
const STATUS_PAGE_MAX = 200;

interface LockAction {
  repository: string;
  environment?: string;
  global?: boolean;
  reason?: string;
  for?: string;
  by?: string;
}

export function addEnvironmentRoutes(router: Router, deps: EnvironmentRouteDeps): void {
  const { store, mode } = deps;

  router.get('/environments', async (ctx) => {
    const repository = typeof ctx.query.repository === 'string' ? ctx.query.repository : undefined;
    const environment = typeof ctx.query.environment === 'string' ? ctx.query.environment : undefined;
    const limit = ctx.query.limit === undefined ? STATUS_PAGE_DEFAULT : Number(ctx.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > STATUS_PAGE_MAX) {
      throw new BitEnvoyError('BE_BAD_REQUEST', `limit: expected a whole number from 1 to ${STATUS_PAGE_MAX}, got ${JSON.stringify(ctx.query.limit)}`);
    }
    let pairs = environmentPairs(deps);
    if (repository) pairs = pairs.filter((p) => p.repository === repository);
    if (repository && !pairs.length) throw unknownRepository(deps, repository);
    if (environment) {
      if (repository) environmentOf(deps, repository, environment);
      pairs = pairs.filter((p) => p.environment === environment);
      if (!pairs.length) throw new BitEnvoyError('BE_NOT_FOUND', `no configured repository has an environment \`${environment}\`; environments: ${[...new Set(environmentPairs(deps).map((p) => p.environment))].join(', ') || 'none'}`);
    }
    // A page of pairs in the config's order; `next` is the `after` of the following page.
    const after = typeof ctx.query.after === 'string' ? ctx.query.after : undefined;
    const start = after === undefined ? 0 : pairs.findIndex((p) => `${p.repository} ${p.environment}` === after) + 1;
    if (after !== undefined && start === 0) throw new BitEnvoyError('BE_BAD_REQUEST', `after: "${after.slice(0, 200)}" is not a page cursor here: pass back the "next" value of the previous page`);
    const page = pairs.slice(start, start + limit);
    const now = Date.now();
    const environments = await Promise.all(page.map((p) => readEnvironmentStatus(store, p.repository, p.environment, now)));
    const last = page[page.length - 1];
    ctx.body = { mode, environments, ...(start + limit < pairs.length && last ? { next: `${last.repository} ${last.environment}` } : {}) };
  });

  router.post('/environments/lock', async (ctx) => {
    const body = validateBody<LockAction>(environmentActionBody, await readJsonBody(ctx.req, 16 * 1024));
    const { repository, environment, env } = lockTarget(deps, body);
    const now = Date.now();
    const duration = body.for ?? env?.lockTimeout;
    const expiresAt = duration === undefined ? undefined : new Date(now + parseDurationFor(duration, body.for !== undefined)).toISOString();
    const by = body.by ?? 'api';
    const { taken, lock } = await takeLock(
      store,
      { repository, ...(environment ? { environment } : {}), by, ...(body.reason ? { reason: body.reason } : {}), at: new Date(now).toISOString(), ...(expiresAt ? { expiresAt } : {}) },
      now,
    );
    if (!taken) {
      await audit(deps, { action: 'lock', repository, environment, outcome: 'refused', detail: describeLock(lock) });
      throw new BitEnvoyError('BE_CONFLICT', `${describeLock(lock)}; ${howToUnlock(mode, lock)} first`);
    }
    await audit(deps, { action: 'lock', repository, environment, outcome: 'locked', detail: `by ${by}${body.reason ? `: ${body.reason}` : ''}` });
    ctx.status = 201;
    ctx.body = {
      lock,
      message: `${describeLock(lock)}. Every deployment${environment ? ` to \`${environment}\`` : ''} — the API, automatic deploys, rollbacks${mode === 'github' ? ', pull-request commands' : ''} — is refused until it is unlocked (${howToUnlock(mode, lock)}); a rollout paused between batches stays paused.`,
    };
  });

  router.post('/environments/unlock', async (ctx) => {
    const body = validateBody<LockAction>(environmentActionBody, await readJsonBody(ctx.req, 16 * 1024));
    if (body.reason !== undefined || body.for !== undefined) throw new BitEnvoyError('BE_BAD_REQUEST', 'unlock takes `repository` and `environment` (or `global`), not `reason` or `for`');
    const { repository, environment } = lockTarget(deps, body);
    const released = await releaseLock(store, repository, environment);
    if (!released) {
      const global = environment ? await activeLock(store, repository, environment) : undefined;
      throw new BitEnvoyError('BE_CONFLICT', `${environment ? `\`${environment}\` of ${repository} is` : `${repository} has no global lock: it is`} not locked${global ? ` by its own lock; a global lock holds it: ${howToUnlock(mode, global)}` : ''}`);
    }
    await audit(deps, { action: 'unlock', repository, environment, outcome: 'unlocked', detail: `lock by ${released.by}${released.reason ? `: ${released.reason}` : ''}${body.by ? `; unlocked by ${body.by}` : ''}` });
    // Automatic deploys the lock held back look at their branch again, as after `/unlock`; the unlock stands anyway.
    const resumed = await (deps.onUnlocked?.(repository, environment) ?? Promise.resolve([])).catch((err: unknown) => {
      deps.log?.error({ err }, 'after an unlock through the admin API: looking at held-back automatic deploys failed');
      return [] as string[];
    });
    ctx.body = { released, resumed };
  });

  router.post('/environments/rollback', async (ctx) => {
    const body = validateBody<{ repository: string; environment: string; to?: string }>(rollbackBody, await readJsonBody(ctx.req, 16 * 1024));
    environmentOf(deps, body.repository, body.environment);
    const { answer, from, to } = await rollBackEnvironment(deps, { ...body, actor: 'api', via: 'rollback through the admin API' });
    if ('queued' in answer) {
      ctx.status = 202;
      ctx.body = { queued: true, deploymentId: answer.id, message: answer.message, url: `${deps.publicUrl()}/deployments/${answer.id}`, from, to };
      return;
    }
    ctx.status = 201;
    ctx.body = withoutCredentialsIn({ deployment: answer, url: `${deps.publicUrl()}/deployments/${answer.id}`, from, to });
  });
}

/** Every configured repository × environment, repositories in name order, environments in their config's order. */
function environmentPairs(deps: EnvironmentRouteDeps): Array<{ repository: string; environment: string }> {
  const repositories = [...new Set((deps.configs?.inForce() ?? []).flatMap((c) => Object.keys(c.repositories)))].sort();
  return repositories.flatMap((repository) => Object.keys(deps.configs?.current(repository)?.repositories[repository]?.environments ?? {}).map((environment) => ({ repository, environment })));
}

/** The environment's config; unknown repositories and environments are refused with the known ones. */
function environmentOf(deps: EnvironmentRouteDeps, repository: string, environment: string): Environment {
  const repo = deps.configs?.current(repository)?.repositories[repository];
  if (!repo) throw unknownRepository(deps, repository);
  const env = repo.environments[environment];
  if (!env) throw new BitEnvoyError('BE_NOT_FOUND', `${repository} has no environment \`${environment}\`; its environments: ${Object.keys(repo.environments).join(', ')}`, { details: { environments: Object.keys(repo.environments) } });
  return env;
}

function unknownRepository(deps: EnvironmentRouteDeps, repository: string): BitEnvoyError {
  const configs = deps.configs?.inForce() ?? [];
  if (!configs.length) {
    return new BitEnvoyError('BE_CONFIG_UNAVAILABLE', 'no config is in force: set BITENVOY_CONFIG_REPO (or, in GitHub mode, install the App on an account with a `.bitenvoy` repository); /healthz says why none loaded');
  }
  const known = [...new Set(configs.flatMap((c) => Object.keys(c.repositories)))].sort();
  return new BitEnvoyError('BE_NOT_FOUND', `repository \`${repository}\` is not configured; configured: ${known.join(', ') || 'none (add repositories/<owner>/<name>.yml to the config repo)'}`, { details: { repositories: known } });
}

/** What a lock or unlock is about: one environment, or (`global`) every environment of the repository. */
function lockTarget(deps: EnvironmentRouteDeps, body: LockAction): { repository: string; environment?: string; env?: Environment } {
  if (body.global && body.environment) throw new BitEnvoyError('BE_BAD_REQUEST', 'give `environment` or `global: true`, not both');
  if (!body.global && !body.environment) throw new BitEnvoyError('BE_BAD_REQUEST', '`environment` is missing: name the environment, or send `global: true` for every environment of the repository');
  if (body.global) {
    if (!deps.configs?.current(body.repository)?.repositories[body.repository]) throw unknownRepository(deps, body.repository);
    return { repository: body.repository };
  }
  return { repository: body.repository, environment: body.environment!, env: environmentOf(deps, body.repository, body.environment!) };
}

function parseDurationFor(value: number | string, given: boolean): number {
  try {
    return parseDuration(value, given ? 'for' : 'lockTimeout');
  } catch (err) {
    throw new BitEnvoyError('BE_BAD_REQUEST', (err as Error).message);
  }
}

async function audit(
  deps: EnvironmentRouteDeps,
  entry: { action: AuditEntry['action']; repository: string; environment?: string | undefined; sha?: string; outcome: string; deploymentId?: string; detail?: string },
): Promise<void> {
  const { environment, ...rest } = entry;
  await recordAudit(deps.store, { actor: 'api', ...rest, ...(environment ? { environment } : {}) });
}
