import type { Middleware } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import { hashSecret } from '../enroll/create-enroll-token.js';
import { keys, type AgentRecord } from '../model.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../../lib/logger.js';
import { clientAddress } from './client-address.js';
import { AGENT_CREDENTIAL_GUESSES, GuessLimiter } from './guess-limiter.js';

/** How often at most an agent's `lastSeenAt` is written: every request is a heartbeat, not every one a write. */
const HEARTBEAT_WRITE_MS = 5000;

/**
 * Authenticates an agent by its credential (`Authorization: Bearer bta_…`) and records the heartbeat. Puts the
 * agent on `ctx.state.agent`.
 *
 * Wrong credentials count against `guesses` by client address; past the limit they answer 429 instead of 401. A
 * right credential is always looked up and let in, so a guesser behind the same address (a shared NAT) cannot lock
 * the real agents out. Credentials are 256 random bits: the limit is about a guesser's cost and noise.
 */
export function agentAuth(store: Store, guesses = new GuessLimiter(AGENT_CREDENTIAL_GUESSES)): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const credential = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!credential) throw new BitEnvoyError('BE_UNAUTHORIZED', 'missing `Authorization: Bearer <agent credential>`; enroll the agent with `bitenvoy agent enroll`');
    const agentId = await store.get<string>(keys.agentByCredential(hashSecret(credential)));
    const agent = agentId ? await store.get<AgentRecord>(keys.agent(agentId)) : undefined;
    if (!agent) {
      const address = clientAddress(ctx);
      guesses.assertMayTry(address);
      guesses.failed(address, ctx.state.log as Logger);
      throw new BitEnvoyError('BE_UNAUTHORIZED', 'unknown agent credential (the agent was removed or the hub lost its data); enroll it again with a new token');
    }
    if (Date.now() - Date.parse(agent.lastSeenAt) > HEARTBEAT_WRITE_MS) {
      const now = new Date().toISOString();
      await store.update<AgentRecord>(keys.agent(agent.id), (a) => (a ? { ...a, lastSeenAt: now } : undefined));
    }
    ctx.state.agent = agent;
    await next();
  };
}
