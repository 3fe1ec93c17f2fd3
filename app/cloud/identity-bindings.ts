/**
 * Which agent runs on which cloud instance, as proved by verified evidence — one instance, one agent.
 *
 * Two records per binding, each changed only by compare-and-set (`store.update`): the instance's claim
 * (`cloud-instance:<instanceKey>` → agent) decides who owns an instance, so two agents racing for one instance cannot
 * both win; the agent's binding (`cloud-binding:<agentId>` → identity) says which instance an agent is. The claim is
 * taken first: a crash between the two writes leaves a claim that the same agent's next attestation completes, and
 * that `unbind` removes.
 *
 * An agent that proves a *different* instance than the one it is bound to is quarantined, not rebound: its credential
 * may have been copied, or its disk moved. Its binding keeps the old identity and says what it claimed and when; it
 * has no proved identity (no `cloud.*` labels) until an operator looks and unbinds it.
 *
 * @example
 * const bindings = new IdentityBindings(store);
 * const result = await bindings.bind('ag_1', identity, { agentName: 'web-1' });
 * if (!result.bound) throw refusalError(result.refusal);
 */
import type { Store } from '../store/store.js';
import { instanceKey, type ProvedIdentity } from './cloud-instance.js';
import type { Refusal } from './attest-refusal.js';

export interface BindingRecord {
  agentId: string;
  agentName?: string;
  identity: ProvedIdentity;
  boundAt: string;
  /** The last time the agent proved this identity again. */
  attestedAt: string;
  /** Set when the agent proved another instance; cleared only by unbinding. */
  quarantine?: { since: string; claimed: ProvedIdentity; reason: string };
}

interface InstanceClaim {
  agentId: string;
  agentName?: string;
  since: string;
}

export type BindResult = { bound: true; binding: BindingRecord } | { bound: false; refusal: Refusal };

/** Store keys of this module (model.ts `keys` style; kept here so cloud attestation stays one folder). */
export const bindingKeys = {
  agent: (agentId: string) => `cloud-binding:${agentId}`,
  agentPrefix: () => 'cloud-binding:',
  instance: (key: string) => `cloud-instance:${key}`,
  instancePrefix: () => 'cloud-instance:',
} as const;

/** How an operator releases an agent's binding (the command the refusals point to). */
export function unbindHint(agent: string): string {
  return `\`bitenvoy agents unbind ${agent}\``;
}

export class IdentityBindings {
  #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Binds the agent to the proved instance, records a re-attestation, or refuses (already bound, quarantined, replay). */
  async bind(agentId: string, identity: ProvedIdentity, options: { agentName?: string; now?: number } = {}): Promise<BindResult> {
    const at = new Date(options.now ?? Date.now()).toISOString();
    const existing = await this.bindingOf(agentId);
    if (existing) return this.#attestAgain(existing, identity, at);
    const holder = await this.#claim(instanceKey(identity), { agentId, agentName: options.agentName, since: at });
    if (holder) return { bound: false, refusal: alreadyBound(instanceKey(identity), holder) };
    const record: BindingRecord = { agentId, identity, boundAt: at, attestedAt: at };
    if (options.agentName) record.agentName = options.agentName;
    let raced = false;
    const stored = await this.#store.update<BindingRecord>(bindingKeys.agent(agentId), (current) => {
      if (!current) return record;
      raced = true;
      return undefined;
    });
    if (!raced) return { bound: true, binding: stored! };
    // The same agent attested twice at once and the other request bound first: judge this one against it.
    if (instanceKey(stored!.identity) !== instanceKey(identity)) await this.#releaseClaim(instanceKey(identity), agentId);
    return this.#attestAgain(stored!, identity, at);
  }

  /** Forgets the agent's binding, its quarantine and every instance claim it holds. True if anything was removed. */
  async unbind(agentId: string): Promise<boolean> {
    let removed = await this.#store.delete(bindingKeys.agent(agentId));
    for (const { key, value } of await this.#store.list<InstanceClaim>(bindingKeys.instancePrefix())) {
      if (value.agentId === agentId) removed = (await this.#store.delete(key)) || removed;
    }
    return removed;
  }

  async bindingOf(agentId: string): Promise<BindingRecord | undefined> {
    return this.#store.get<BindingRecord>(bindingKeys.agent(agentId));
  }

  /** Quarantined agents and why: their cloud identity is in doubt until an operator unbinds them. */
  async quarantined(): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const { value } of await this.#store.list<BindingRecord>(bindingKeys.agentPrefix())) {
      if (value.quarantine) found.set(value.agentId, `quarantined since ${value.quarantine.since}: ${value.quarantine.reason}`);
    }
    return found;
  }

  /** Every agent's proved identity, for joining with discovery; quarantined agents have none. */
  async provedIdentities(): Promise<Map<string, ProvedIdentity>> {
    const identities = new Map<string, ProvedIdentity>();
    for (const { value } of await this.#store.list<BindingRecord>(bindingKeys.agentPrefix())) {
      if (!value.quarantine) identities.set(value.agentId, value.identity);
    }
    return identities;
  }

  /** Takes the instance for `claim.agentId`; returns the other agent holding it, if one does. */
  async #claim(key: string, claim: InstanceClaim): Promise<InstanceClaim | undefined> {
    let holder: InstanceClaim | undefined;
    await this.#store.update<InstanceClaim>(bindingKeys.instance(key), (current) => {
      if (current && current.agentId !== claim.agentId) holder = current;
      return current ? undefined : claim;
    });
    return holder;
  }

  async #releaseClaim(key: string, agentId: string): Promise<void> {
    // Safe without compare-and-set: no other agent can change a claim this agent holds.
    const claim = await this.#store.get<InstanceClaim>(bindingKeys.instance(key));
    if (claim?.agentId === agentId) await this.#store.delete(bindingKeys.instance(key));
  }

  /** A bound agent proved an identity again: the same instance refreshes the binding; another one quarantines it. */
  async #attestAgain(existing: BindingRecord, identity: ProvedIdentity, at: string): Promise<BindResult> {
    let refusal: Refusal | undefined;
    let vanished = false;
    const stored = await this.#store.update<BindingRecord>(bindingKeys.agent(existing.agentId), (current) => {
      if (!current) vanished = true;
      else if (current.quarantine) refusal = stillQuarantined(current);
      else if (instanceKey(current.identity) !== instanceKey(identity)) return quarantine(current, identity, at);
      else if (isOlder(identity, current.identity)) refusal = replayed(current, identity);
      else return { ...current, identity, attestedAt: at };
      return undefined;
    });
    if (refusal) return { bound: false, refusal };
    // An operator unbound the agent meanwhile: this is a first binding again.
    if (vanished) return this.bind(existing.agentId, identity, { agentName: existing.agentName, now: Date.parse(at) });
    if (stored!.quarantine) return { bound: false, refusal: stillQuarantined(stored!) };
    return { bound: true, binding: stored! };
  }
}

function quarantine(current: BindingRecord, claimed: ProvedIdentity, at: string): BindingRecord {
  const reason = `${agentLabel(current)} is bound to ${instanceKey(current.identity)} but proved ${instanceKey(claimed)} at ${at}`;
  return { ...current, quarantine: { since: at, claimed, reason } };
}

function stillQuarantined(binding: BindingRecord): Refusal {
  const q = binding.quarantine!;
  return {
    reason: 'quarantined',
    message:
      `${q.reason}, and is quarantined since ${q.since}: its credential may have been copied to another machine, or its disk moved to a new instance. ` +
      `It gets no cloud identity until an operator checks the server and unbinds it with ${unbindHint(binding.agentName ?? binding.agentId)}; then it attests afresh`,
  };
}

function alreadyBound(key: string, holder: InstanceClaim): Refusal {
  const name = holder.agentName ?? holder.agentId;
  return {
    reason: 'already-bound',
    message:
      `instance ${key} is already bound to agent ${holder.agentName ? `${holder.agentName} (${holder.agentId})` : holder.agentId} since ${holder.since}; one instance runs one agent. ` +
      `If this agent replaces ${name} (reinstalled or re-enrolled), unbind the old one with ${unbindHint(name)} and attest again; ` +
      `if ${name} still runs there, this agent's evidence was copied from that instance — do not trust it`,
  };
}

function replayed(current: BindingRecord, identity: ProvedIdentity): Refusal {
  return {
    reason: 'replayed',
    message:
      `evidence for ${instanceKey(identity)} made at ${identity.issuedAt} is older than the evidence the hub already accepted (${current.identity.issuedAt}): ` +
      'it is a replay of old evidence; fetch fresh evidence from the metadata service',
  };
}

function isOlder(candidate: ProvedIdentity, accepted: ProvedIdentity): boolean {
  if (!accepted.issuedAt) return false;
  if (!candidate.issuedAt) return true;
  return Date.parse(candidate.issuedAt) < Date.parse(accepted.issuedAt);
}

function agentLabel(binding: BindingRecord): string {
  return binding.agentName ? `agent ${binding.agentName} (${binding.agentId})` : `agent ${binding.agentId}`;
}
