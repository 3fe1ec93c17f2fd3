/**
 * The agent API v1 (see lib/protocol.ts): enrollment, long-poll dispatch, claim, lease, events and logs. Handlers
 * only read, validate and delegate: the rollout engine owns every decision.
 */
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import {
  AGENT_API_PREFIX,
  MAX_AGENT_BODY_BYTES,
  type AgentSettings,
  type ClaimRequest,
  type CloudAttestRequest,
  type CloudAttestResponse,
  type CloudNonceRequest,
  type CloudNonceResponse,
  type EnrollRequest,
  type EventsRequest,
  type LeaseRequest,
  type LogsRequest,
  type SuggestedAllow,
} from '../../lib/protocol.js';
import type { CloudService } from '../cloud/cloud-service.js';
import { enrollAgent } from '../enroll/enroll-agent.js';
import type { AgentRecord } from '../model.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import type { Store } from '../store/store.js';
import { agentAuth } from './agent-auth.js';
import { EVENT_POST_LIMITS, LOG_POST_LIMITS, ReportLimiter } from './report-limits.js';
import { claimBody, cloudAttestBody, cloudNonceBody, enrollBody, eventsBody, leaseBody, logsBody } from './body-schemas.js';
import { readJsonBody } from './read-json-body.js';
import { validateBody } from './validate-body.js';

function cloudOf(deps: { cloud?: CloudService }): CloudService {
  if (!deps.cloud) throw new BitEnvoyError('BE_CLOUD_NOT_CONFIGURED', 'this hub does not verify cloud identity evidence: its operator can set BITENVOY_AWS_IDENTITY_CERTS, BITENVOY_GCP_JWKS or BITENVOY_AZURE_ROOTS');
  return deps.cloud;
}

async function body<T>(ctx: Context, schema: object): Promise<T> {
  return validateBody<T>(schema, await readJsonBody(ctx.req, MAX_AGENT_BODY_BYTES));
}

export function agentRoutes(deps: {
  store: Store;
  engine: RolloutEngine;
  settings: AgentSettings;
  shutdown: AbortSignal;
  cloud?: CloudService;
  /** What enrolling agents are told to pin in their agent.yml, from the config in force at the time. */
  suggestAllow?: () => SuggestedAllow;
}): Router {
  const { store, engine, settings } = deps;
  const router = new Router({ prefix: AGENT_API_PREFIX });
  const auth = agentAuth(store);
  const logLimits = new ReportLimiter('log chunks', LOG_POST_LIMITS);
  const eventLimits = new ReportLimiter('events', EVENT_POST_LIMITS);
  const agentOf = (ctx: Context) => ctx.state.agent as AgentRecord;

  router.post('/enroll', async (ctx) => {
    const req = await body<EnrollRequest>(ctx, enrollBody);
    const enrolled = await enrollAgent(store, req, settings, Date.now(), deps.suggestAllow?.());
    ctx.status = 201;
    ctx.body = enrolled;
    (ctx.state.log as Logger).info({ agentId: enrolled.agentId, name: req.name }, 'agent enrolled');
  });

  // Cloud identity: a nonce, then the provider-signed evidence (see app/cloud/). Refusals are 403/409 with the reason.
  router.post('/cloud/nonce', auth, async (ctx) => {
    const { provider } = await body<CloudNonceRequest>(ctx, cloudNonceBody);
    ctx.body = (await cloudOf(deps).nonce(agentOf(ctx), provider)) satisfies CloudNonceResponse;
  });

  router.post('/cloud/attest', auth, async (ctx) => {
    const { evidence } = await body<CloudAttestRequest>(ctx, cloudAttestBody);
    const agent = agentOf(ctx);
    try {
      const identity = await cloudOf(deps).attest(agent, evidence);
      ctx.body = { identity } satisfies CloudAttestResponse;
      (ctx.state.log as Logger).info({ agentId: agent.id, identity }, 'agent proved its cloud instance');
    } catch (err) {
      (ctx.state.log as Logger).warn({ agentId: agent.id, provider: evidence.provider }, `cloud attestation refused: ${(err as Error).message}`);
      throw err;
    }
  });

  router.get('/jobs/next', auth, async (ctx) => {
    const agent = agentOf(ctx);
    const raw = ctx.query.wait;
    const wait = raw === undefined ? settings.pollWaitSeconds : Number(raw);
    if (!Number.isFinite(wait) || wait < 0) throw new BitEnvoyError('BE_BAD_REQUEST', `wait: expected a number of seconds ≥ 0, got ${JSON.stringify(raw)}`);
    const deadline = Date.now() + Math.min(wait, settings.pollWaitSeconds) * 1000;
    // The response's `close` (not the request's) fires when the agent hangs up before we answer: a GET's request
    // stream may already have ended and closed, so it says nothing about the connection.
    const gone = new AbortController();
    const hangUp = () => gone.abort();
    ctx.res.once('close', hangUp);
    if (ctx.req.socket.destroyed) gone.abort();
    try {
      for (;;) {
        const job = await engine.nextJob(agent.id);
        if (job) {
          ctx.body = { job };
          return;
        }
        const left = deadline - Date.now();
        if (left <= 0 || gone.signal.aborted || deps.shutdown.aborted) break;
        await engine.notifier.waitForJob(agent.id, left, AbortSignal.any([gone.signal, deps.shutdown]));
      }
      ctx.status = 204;
    } finally {
      ctx.res.off('close', hangUp);
    }
  });

  router.post('/jobs/:id/claim', auth, async (ctx) => {
    const { claimId } = await body<ClaimRequest>(ctx, claimBody);
    ctx.body = await engine.claimJob(agentOf(ctx).id, ctx.params.id!, claimId);
  });

  router.post('/jobs/:id/lease', auth, async (ctx) => {
    const { claimId } = await body<LeaseRequest>(ctx, leaseBody);
    ctx.body = await engine.renewLease(agentOf(ctx).id, ctx.params.id!, claimId);
  });

  // Reports are rate-limited per agent (report-limits.ts): an agent still told to wait is refused before its body
  // is read; lease renewals, polls and claims are never limited, so a flood cannot cost an agent its lease.
  router.post('/jobs/:id/events', auth, async (ctx) => {
    const agent = agentOf(ctx);
    eventLimits.assertNotWaiting(agent.id, agent.name);
    const req = await body<EventsRequest>(ctx, eventsBody);
    eventLimits.take(agent.id, agent.name, { items: req.events.length }, ctx.state.log as Logger);
    ctx.body = await engine.appendEvents(agent.id, ctx.params.id!, req.claimId, req.events);
  });

  router.post('/jobs/:id/logs', auth, async (ctx) => {
    const agent = agentOf(ctx);
    logLimits.assertNotWaiting(agent.id, agent.name);
    const req = await body<LogsRequest>(ctx, logsBody);
    const bytes = req.chunks.reduce((n, c) => n + Buffer.byteLength(c.data), 0);
    logLimits.take(agent.id, agent.name, { items: req.chunks.length, bytes }, ctx.state.log as Logger);
    ctx.body = await engine.appendLogs(agent.id, ctx.params.id!, req.claimId, req.chunks);
  });

  return router;
}
