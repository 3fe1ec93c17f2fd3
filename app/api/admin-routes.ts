/**
 * The admin API (`/api/v1`, `Authorization: Bearer <admin token>`): deployments, agents, enrollment tokens. A
 * deployment is read as a summary of bounded size, its servers in pages and each server's log on demand.
 */
import { pageOfDeployments } from '../store/deployment-queries.js';
import { Router } from '@koa/router';
import type { Middleware } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import { withoutCredentialsIn } from '../../lib/redact-url.js';
import { ADMIN_API_PREFIX, JOB_STATES, MAX_AGENT_BODY_BYTES, type CreateDeploymentRequest, type JobState } from '../../lib/protocol.js';
import { createEnrollToken } from '../enroll/create-enroll-token.js';
import { pageOfAudit, recordAudit } from '../audit/audit-log.js';
import { cancelRollout, continueRollout } from '../audit/audited-deployment-actions.js';
import type { CloudService } from '../cloud/cloud-service.js';
import type { ConfigStatus } from '../config/config-repo.js';
import { LOG_TAIL_LINES } from '../jobs/job-logs.js';
import { parseLogCursor, readLogAfter } from '../jobs/read-log-after.js';
import { LOG_LINES_MAX, readDeploymentSummary, readServerDetail, readServerLog, readServerPage, SERVER_PAGE_DEFAULT, SERVER_PAGE_MAX } from '../rollout/deployment-view.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import type { AgentFacts } from '../rollout/select-agents.js';
import { keys, type DeploymentRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { clientAddress } from './client-address.js';
import { DeploymentStreams, type StreamTimings } from './deployment-events.js';
import { ADMIN_TOKEN_GUESSES, GuessLimiter } from './guess-limiter.js';
import { checkAdminToken } from './is-admin-token.js';
import type { Logger } from '../../lib/logger.js';
import { createDeploymentBody, enrollmentTokenBody } from './body-schemas.js';
import { readJsonBody } from './read-json-body.js';
import { validateBody } from './validate-body.js';
import { addEnvironmentRoutes, type DeployThroughGitHub, type EnvironmentRouteDeps } from './environment-routes.js';
import type { HubMode } from '../rollout/action-hints.js';

/** The admin token as bearer, under the shared limit of wrong guesses; 401 with what to send otherwise. */
export function adminAuth(adminToken: string, guesses: GuessLimiter): Middleware {
  return async (ctx, next) => {
    const token = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
    if (!token || !checkAdminToken(token, adminToken, { address: clientAddress(ctx), guesses, log: ctx.state.log as Logger })) {
      throw new BitEnvoyError('BE_UNAUTHORIZED', 'missing or wrong admin token: send `Authorization: Bearer <BITENVOY_ADMIN_TOKEN>` (or the token in $BITENVOY_DATA_DIR/admin-token)');
    }
    await next();
  };
}

export function adminRoutes(deps: {
  store: Store;
  engine: RolloutEngine;
  adminToken: string;
  /** The limit of wrong admin-token guesses, shared with the sign-in page (see guess-limiter.ts). */
  guesses?: GuessLimiter;
  publicUrl: () => string;
  refreshConfig?: () => Promise<ConfigStatus[]>;
  cloud?: CloudService;
  /**
   * GitHub mode: deploys a repository configured without `git:` through a GitHub Deployment (queued while GitHub does
   * not take it: answered 202); undefined when it does not apply.
   */
  deployThroughGitHub?: DeployThroughGitHub;
  /** The configs in force: the repository × environment pairs of `GET /environments` (environment-routes.ts). */
  configs?: EnvironmentRouteDeps['configs'];
  /** The hub's mode, for what answers tell people to do (local by default). */
  mode?: HubMode;
  /** After an unlock: automatic deploys the lock held back look at their branch again. */
  onUnlocked?: EnvironmentRouteDeps['onUnlocked'];
  log?: Logger;
  /** Aborted when the hub stops: open deployment event streams end then. */
  shutdown?: AbortSignal;
  /** The event streams' cap and intervals (tests shorten them); see deployment-events.ts. */
  streamTimings?: Partial<StreamTimings>;
}): Router {
  const { engine } = deps;
  const router = new Router({ prefix: ADMIN_API_PREFIX });
  router.use(adminAuth(deps.adminToken, deps.guesses ?? new GuessLimiter(ADMIN_TOKEN_GUESSES)));
  const streams = new DeploymentStreams({ store: deps.store, changes: engine.changes, ...(deps.shutdown ? { shutdown: deps.shutdown } : {}), ...(deps.streamTimings ? { timings: deps.streamTimings } : {}) });

  router.post('/deployments', async (ctx) => {
    const req = validateBody<CreateDeploymentRequest>(createDeploymentBody, await readJsonBody(ctx.req, 64 * 1024));
    const answer = (await deps.deployThroughGitHub?.(req, 'api')) ?? (await engine.createDeployment(req, 'api'));
    if ('queued' in answer) {
      // GitHub did not take the deployment at once: decided and journalled, it is created when GitHub answers.
      await recordAudit(deps.store, { actor: 'api', action: 'deploy', repository: answer.repository, environment: answer.environment, sha: answer.sha, outcome: 'queued', deploymentId: answer.id, detail: answer.message });
      ctx.status = 202;
      ctx.body = { queued: true, deploymentId: answer.id, message: answer.message, url: `${deps.publicUrl()}/deployments/${answer.id}` };
      return;
    }
    const deployment = answer;
    await recordAudit(deps.store, {
      actor: 'api',
      action: 'deploy',
      repository: deployment.repository,
      environment: deployment.environment,
      sha: deployment.sha,
      outcome: deployment.state === 'error' ? 'error' : 'started',
      deploymentId: deployment.id,
      ...(deployment.state === 'error' ? { detail: deployment.description } : {}),
    });
    ctx.status = 201;
    ctx.body = withoutCredentialsIn({ deployment, url: `${deps.publicUrl()}/deployments/${deployment.id}` });
  });

  router.get('/deployments', async (ctx) => {
    const limit = Number(ctx.query.limit ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new BitEnvoyError('BE_BAD_REQUEST', `limit: expected a whole number from 1 to 500, got ${JSON.stringify(ctx.query.limit)}`);
    }
    const before = typeof ctx.query.before === 'string' ? ctx.query.before : undefined;
    // Newest first, a page at a time from the index; `next` is the `before` of the following (older) page.
    const page = await pageOfDeployments(deps.store, { limit, ...(before ? { before } : {}) });
    ctx.body = withoutCredentialsIn({ deployments: page.deployments, ...(page.next ? { next: page.next } : {}) });
  });

  router.get('/deployments/:id', async (ctx) => {
    const summary = await readDeploymentSummary(deps.store, ctx.params.id!);
    if (!summary) throw notFound(ctx.params.id!);
    ctx.body = withoutCredentialsIn(summary);
  });

  // The summary again each time it changes (Server-Sent Events), until the deployment ends: what `bitenvoy deploy` follows.
  router.get('/deployments/:id/events', (ctx) => streams.serve(ctx, ctx.params.id!, notFound));

  router.get('/deployments/:id/servers', async (ctx) => {
    const dep = await readDeployment(deps.store, ctx.params.id!);
    const after = ctx.query.after === undefined ? undefined : wholeNumber(ctx.query.after, 'after', 0, Number.MAX_SAFE_INTEGER, 'a cursor from an earlier page\'s `next`');
    const limit = ctx.query.limit === undefined ? SERVER_PAGE_DEFAULT : wholeNumber(ctx.query.limit, 'limit', 1, SERVER_PAGE_MAX);
    const state = ctx.query.state === undefined ? undefined : jobState(ctx.query.state);
    ctx.body = await readServerPage(deps.store, dep, { ...(after === undefined ? {} : { after }), limit, ...(state ? { state } : {}) });
  });

  router.get('/deployments/:id/servers/:jobId', async (ctx) => {
    const dep = await readDeployment(deps.store, ctx.params.id!);
    const server = await readServerDetail(deps.store, dep, ctx.params.jobId!);
    if (!server) throw serverNotFound(dep.id, ctx.params.jobId!);
    ctx.body = withoutCredentialsIn({ server });
  });

  router.get('/deployments/:id/servers/:jobId/log', async (ctx) => {
    const dep = await readDeployment(deps.store, ctx.params.id!);
    // `?after=<cursor>`: the log forward from a cursor (`0.0`: from the start), for `bitenvoy logs` and `--follow`.
    const cursor = ctx.query.after === undefined ? undefined : parseLogCursor(ctx.query.after);
    const lines = ctx.query.lines === undefined ? LOG_TAIL_LINES : wholeNumber(ctx.query.lines, 'lines', 1, LOG_LINES_MAX);
    const server = await readServerDetail(deps.store, dep, ctx.params.jobId!);
    if (!server) throw serverNotFound(dep.id, ctx.params.jobId!);
    if (cursor) {
      ctx.body = { jobId: server.id, agentName: server.agentName, state: server.state, ...(await readLogAfter(deps.store, server, cursor)) };
      return;
    }
    ctx.body = { jobId: server.id, agentName: server.agentName, state: server.state, lines: await readServerLog(deps.store, server, lines), ...(server.logsDropped ? { logsDropped: server.logsDropped } : {}) };
  });

  router.post('/deployments/:id/cancel', async (ctx) => {
    const by = typeof ctx.query.by === 'string' && /^[\w.@-]{1,64}$/.test(ctx.query.by) ? ctx.query.by : 'api';
    const deployment = await cancelRollout(deps, ctx.params.id!, by);
    ctx.body = withoutCredentialsIn(await readDeploymentSummary(deps.store, deployment.id));
  });

  router.post('/deployments/:id/continue', async (ctx) => {
    const by = typeof ctx.query.by === 'string' && /^[\w.@-]{1,64}$/.test(ctx.query.by) ? ctx.query.by : 'api';
    const deployment = await continueRollout(deps, ctx.params.id!, by);
    ctx.body = withoutCredentialsIn(await readDeploymentSummary(deps.store, deployment.id));
  });

  // Status, lock, unlock and rollback of an environment: the pull-request commands without a pull request.
  addEnvironmentRoutes(router, {
    store: deps.store,
    engine,
    mode: deps.mode ?? 'local',
    publicUrl: deps.publicUrl,
    ...(deps.configs ? { configs: deps.configs } : {}),
    ...(deps.onUnlocked ? { onUnlocked: deps.onUnlocked } : {}),
    ...(deps.deployThroughGitHub ? { deployThroughGitHub: deps.deployThroughGitHub } : {}),
    ...(deps.log ? { log: deps.log } : {}),
  });

  router.get('/agents', async (ctx) => {
    const limit = Number(ctx.query.limit ?? 500);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new BitEnvoyError('BE_BAD_REQUEST', `limit: expected a whole number from 1 to 1000, got ${JSON.stringify(ctx.query.limit)}`);
    }
    const after = typeof ctx.query.after === 'string' ? ctx.query.after : undefined;
    // A page in name order; `next` is the `after` of the following page.
    const { agents, next } = await engine.listAgents({ limit, ...(after ? { after } : {}) });
    // Verified cloud facts next to the agent's own labels (or why they are unknown now).
    const facts = deps.cloud ? await deps.cloud.facts(agents) : new Map<string, AgentFacts>();
    ctx.body = {
      agents: agents.map(({ credentialHash: _hidden, ...agent }) => {
        const cloud = facts.get(agent.id);
        return { ...agent, ...(cloud && (cloud.unknown || Object.keys(cloud.labels).length) ? { cloud } : {}) };
      }),
      ...(next ? { next } : {}),
    };
  });

  // After checking a quarantined server (its agent proved another instance than before): forget its cloud binding.
  router.post('/agents/:name/unbind', async (ctx) => {
    const name = ctx.params.name!;
    const agentId = await deps.store.get<string>(keys.agentByName(name));
    if (!agentId) throw new BitEnvoyError('BE_NOT_FOUND', `no agent named \`${name}\`; \`bitenvoy agents\` lists them`);
    const removed = deps.cloud ? await deps.cloud.unbind(agentId) : false;
    ctx.body = { agent: name, unbound: removed };
  });

  // Fetch the config repo now instead of waiting for the timer (e.g. right after merging a config change).
  router.post('/config/refresh', async (ctx) => {
    const refreshed = deps.refreshConfig ? await deps.refreshConfig() : [];
    if (!refreshed.length) throw new BitEnvoyError('BE_CONFIG_UNAVAILABLE', 'no config repo is set: set BITENVOY_CONFIG_REPO (or, in GitHub mode, install the App on an account with a `.bitenvoy` repository)');
    ctx.body = { configRepos: refreshed };
  });

  router.get('/audit', async (ctx) => {
    const limit = ctx.query.limit === undefined ? undefined : Number(ctx.query.limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100_000)) {
      throw new BitEnvoyError('BE_BAD_REQUEST', `limit: expected a whole number from 1 to 100000, got ${JSON.stringify(ctx.query.limit)}`);
    }
    const repository = typeof ctx.query.repository === 'string' ? ctx.query.repository : undefined;
    const before = typeof ctx.query.before === 'string' ? ctx.query.before : undefined;
    // A page at a time (1,000 by default), newest last; `older` is the cursor of the page before it.
    ctx.body = await pageOfAudit(deps.store, { ...(repository ? { repository } : {}), ...(before ? { before } : {}), limit: Math.min(limit ?? 1000, 1000) });
  });

  router.post('/enrollment-tokens', async (ctx) => {
    const hasBody = Number(ctx.get('content-length') || 0) > 0;
    const req = hasBody ? validateBody<{ ttlSeconds?: number }>(enrollmentTokenBody, await readJsonBody(ctx.req, MAX_AGENT_BODY_BYTES)) : {};
    ctx.status = 201;
    ctx.body = await createEnrollToken(deps.store, { ttlSeconds: req.ttlSeconds, createdBy: 'api' });
  });

  return router;
}

function notFound(id: string): BitEnvoyError {
  return new BitEnvoyError('BE_NOT_FOUND', `no deployment ${id}; \`GET /api/v1/deployments\` lists them`);
}

function serverNotFound(id: string, jobId: string): BitEnvoyError {
  return new BitEnvoyError('BE_NOT_FOUND', `deployment ${id} has no server job ${jobId}; \`GET /api/v1/deployments/${id}/servers\` lists its jobs`);
}

async function readDeployment(store: Store, id: string): Promise<DeploymentRecord> {
  const dep = await store.get<DeploymentRecord>(keys.deployment(id));
  if (!dep) throw notFound(id);
  return dep;
}

/** A query parameter that must be a whole number in [min, max]. */
function wholeNumber(raw: string | string[], name: string, min: number, max: number, what = `a whole number from ${min} to ${max}`): number {
  const value = typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new BitEnvoyError('BE_BAD_REQUEST', `${name}: expected ${what}, got ${JSON.stringify(raw)}`);
  return value;
}

function jobState(raw: string | string[]): JobState {
  const state = JOB_STATES.find((s) => s === raw);
  if (!state) throw new BitEnvoyError('BE_BAD_REQUEST', `state: expected one of ${JOB_STATES.join(', ')}, got ${JSON.stringify(raw)}`);
  return state;
}
