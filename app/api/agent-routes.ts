/**
 * The agent API v1 (see lib/protocol.ts): enrollment, claim, lease, events and logs. Handlers only read, validate
 * and delegate: the rollout engine owns every decision. The long poll (`GET /jobs/next`) is answered below Koa, by
 * poll-route.ts, so that an idle agent costs the hub little.
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
import type { AgentIdentity } from '../store/agent-queries.js';
import type { Store } from '../store/store.js';
import { agentAuth, agentIdentityAuth } from './agent-auth.js';
import { AGENT_CREDENTIAL_GUESSES, GuessLimiter } from './guess-limiter.js';
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
  /** The limit of wrong agent-credential guesses; the hub shares it with the long-poll route. */
  guesses?: GuessLimiter;
  cloud?: CloudService;
  /** What enrolling agents are told to pin in their agent.yml, from the config in force at the time. */
  suggestAllow?: () => SuggestedAllow;
}): Router {
  const { store, engine, settings } = deps;
  const router = new Router({ prefix: AGENT_API_PREFIX });
  const guesses = deps.guesses ?? new GuessLimiter(AGENT_CREDENTIAL_GUESSES);
  // The cloud routes read the agent's whole record; the job routes only who it is (a credential known a moment ago is
  // believed from memory: no store read per claim and report, see agent-auth.ts).
  const auth = agentAuth(store, guesses);
  const jobAuth = agentIdentityAuth(store, guesses);
  const logLimits = new ReportLimiter('log chunks', LOG_POST_LIMITS);
  const eventLimits = new ReportLimiter('events', EVENT_POST_LIMITS);
  const agentOf = (ctx: Context) => ctx.state.agent as AgentRecord;
  const identityOf = (ctx: Context) => ctx.state.agent as AgentIdentity;

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

  router.post('/jobs/:id/claim', jobAuth, async (ctx) => {
    const { claimId } = await body<ClaimRequest>(ctx, claimBody);
    ctx.body = await engine.claimJob(identityOf(ctx).id, ctx.params.id!, claimId);
  });

  router.post('/jobs/:id/lease', jobAuth, async (ctx) => {
    const { claimId } = await body<LeaseRequest>(ctx, leaseBody);
    ctx.body = await engine.renewLease(identityOf(ctx).id, ctx.params.id!, claimId);
  });

  // Reports are rate-limited per agent (report-limits.ts): an agent still told to wait is refused before its body
  // is read; lease renewals, polls and claims are never limited, so a flood cannot cost an agent its lease.
  router.post('/jobs/:id/events', jobAuth, async (ctx) => {
    const agent = identityOf(ctx);
    eventLimits.assertNotWaiting(agent.id, agent.name);
    const req = await body<EventsRequest>(ctx, eventsBody);
    eventLimits.take(agent.id, agent.name, { items: req.events.length }, ctx.state.log as Logger);
    ctx.body = await engine.appendEvents(agent.id, ctx.params.id!, req.claimId, req.events, { answerFirst: true });
  });

  router.post('/jobs/:id/logs', jobAuth, async (ctx) => {
    const agent = identityOf(ctx);
    logLimits.assertNotWaiting(agent.id, agent.name);
    const req = await body<LogsRequest>(ctx, logsBody);
    const bytes = req.chunks.reduce((n, c) => n + Buffer.byteLength(c.data), 0);
    logLimits.take(agent.id, agent.name, { items: req.chunks.length, bytes }, ctx.state.log as Logger);
    ctx.body = await engine.appendLogs(agent.id, ctx.params.id!, req.claimId, req.chunks);
  });

  return router;
}
