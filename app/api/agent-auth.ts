import type { Middleware } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import { hashSecret } from '../enroll/create-enroll-token.js';
import { keys, type AgentRecord } from '../model.js';
import type { Store } from '../store/store.js';

/** How often at most an agent's `lastSeenAt` is written: every request is a heartbeat, not every one a write. */
const HEARTBEAT_WRITE_MS = 5000;

/**
 * Authenticates an agent by its credential (`Authorization: Bearer bta_…`) and records the heartbeat. Puts the
 * agent on `ctx.state.agent`.
 */
export function agentAuth(store: Store): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const credential = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!credential) throw new BitEnvoyError('BE_UNAUTHORIZED', 'missing `Authorization: Bearer <agent credential>`; enroll the agent with `bitenvoy agent enroll`');
    const agentId = await store.get<string>(keys.agentByCredential(hashSecret(credential)));
    const agent = agentId ? await store.get<AgentRecord>(keys.agent(agentId)) : undefined;
    if (!agent) throw new BitEnvoyError('BE_UNAUTHORIZED', 'unknown agent credential (the agent was removed or the hub lost its data); enroll it again with a new token');
    if (Date.now() - Date.parse(agent.lastSeenAt) > HEARTBEAT_WRITE_MS) {
      const now = new Date().toISOString();
      await store.update<AgentRecord>(keys.agent(agent.id), (a) => (a ? { ...a, lastSeenAt: now } : undefined));
    }
    ctx.state.agent = agent;
    await next();
  };
}
