/**
 * What the agents pages say about each agent they show: online or lost (no request for three heartbeat intervals,
 * as the engine decides — engine-context.ts lostAfterMs), quarantined (its cloud binding proved another instance:
 * identity-bindings.ts), and its verified `cloud.*` facts or why they are unknown now. Read for the agents shown
 * only — a binding lookup per agent and one join with the discovery listings in memory — never for the whole fleet.
 *
 * @example
 * const read = agentFactsReader({ store, heartbeatSeconds: 60, cloud: { scopes: () => cloud.scopes(), staleAfterMs } });
 * const facts = await read(pageOfAgents.agents, Date.now()); // facts.get('ag_1')?.state === 'online'
 */
import type { Labels } from '../../lib/protocol.js';
import { CLOUD_LABEL_PREFIX, joinCloudFacts, type ScopeState } from '../cloud/cloud-facts.js';
import type { ProvedIdentity } from '../cloud/cloud-instance.js';
import { IdentityBindings } from '../cloud/identity-bindings.js';
import type { AgentRecord } from '../model.js';
import type { AgentFacts } from '../rollout/select-agents.js';
import type { Store } from '../store/store.js';

export type AgentState = 'online' | 'lost' | 'quarantined';

export interface AgentView {
  agent: AgentRecord;
  state: AgentState;
  /** Its own labels, without any self-reported `cloud.*` (never trusted). */
  labels: Labels;
  /** Verified `cloud.*` facts, and why they are unknown now when they are (quarantine included). */
  cloud: AgentFacts;
  /** Why it is quarantined, if it is. */
  quarantine?: string;
}

/** The hub's cloud discovery, when configured: its listings and how old one may be before its facts are unknown. */
export interface CloudListings {
  scopes(): ScopeState[];
  staleAfterMs: number;
}

export interface AgentFactsDeps {
  store: Store;
  heartbeatSeconds: number;
  cloud?: CloudListings;
}

/** Lost after three heartbeat intervals without a request (the engine's rule). */
export const lostAfterMsOf = (heartbeatSeconds: number): number => 3 * heartbeatSeconds * 1000;

export function agentFactsReader(deps: AgentFactsDeps): (agents: AgentRecord[], now: number) => Promise<Map<string, AgentView>> {
  const bindings = new IdentityBindings(deps.store);
  const lostAfter = lostAfterMsOf(deps.heartbeatSeconds);
  return async (agents, now) => {
    // Without cloud discovery no agent is bound: no binding is read at all.
    const bound = deps.cloud ? await Promise.all(agents.map((a) => bindings.bindingOf(a.id))) : [];
    const identities = new Map<string, ProvedIdentity>();
    const quarantined = new Map<string, string>();
    bound.forEach((b) => {
      if (b?.quarantine) quarantined.set(b.agentId, `quarantined since ${b.quarantine.since}: ${b.quarantine.reason}`);
      else if (b) identities.set(b.agentId, b.identity);
    });
    const cloud = deps.cloud ? joinCloudFacts(agents, identities, deps.cloud.scopes(), { now, staleAfterMs: deps.cloud.staleAfterMs }) : new Map<string, AgentFacts>();
    const views = new Map<string, AgentView>();
    for (const agent of agents) {
      const quarantine = quarantined.get(agent.id);
      const lost = !agent.lastSeenAt || now - Date.parse(agent.lastSeenAt) > lostAfter;
      views.set(agent.id, {
        agent,
        state: quarantine ? 'quarantined' : lost ? 'lost' : 'online',
        labels: Object.fromEntries(Object.entries(agent.labels).filter(([key]) => !key.startsWith(CLOUD_LABEL_PREFIX))),
        cloud: quarantine ? { labels: {}, unknown: quarantine } : (cloud.get(agent.id) ?? { labels: {} }),
        ...(quarantine ? { quarantine } : {}),
      });
    }
    return views;
  };
}
