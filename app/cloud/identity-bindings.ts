/**
 * Which agent runs on which cloud instance, as proved by verified evidence — one instance, one agent.
 *
 * Two records per binding, each changed only by compare-and-set (`store.update`): the instance's claim
 * (`cloud-instance:<instanceKey>` → agent and a claim token) decides who owns an instance; the agent's binding
 * (`cloud-binding:<agentId>` → identity and the same token) says which instance an agent is. **A binding counts only
 * while the claim it names is still its own**: every read joins the two, so an instance is bound to at most one agent
 * whatever order concurrent writes land in — the claim is one record and names one agent.
 *
 * Binding takes the claim first, then writes the binding, then re-checks the claim; if an unbind released it in
 * between, it starts over (and takes it afresh). Unbinding deletes the binding, then releases each claim with
 * compare-and-set on its token: a claim taken again meanwhile is not touched. The store cannot delete on a condition,
 * so a released claim stays as a small record marked `releasedAt` until the instance is claimed again.
 *
 * A claim that no binding names yet is someone's binding in progress, or what a crash between the two writes left:
 * the same agent's next attestation completes it, `unbind` releases it, and another agent may take it over once it is
 * older than {@link ORPHAN_CLAIM_MS}.
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
import { randomBytes } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
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
  /** The token of the instance claim this binding stands on (absent in records made before tokens existed). */
  claimToken?: string;
  /** Set when the agent proved another instance; cleared only by unbinding. */
  quarantine?: { since: string; claimed: ProvedIdentity; reason: string };
}

interface InstanceClaim {
  agentId: string;
  agentName?: string;
  since: string;
  token?: string;
  /** Set when unbinding released the claim: the instance is free. */
  releasedAt?: string;
}

export type BindResult = { bound: true; binding: BindingRecord } | { bound: false; refusal: Refusal };

/** Store keys of this module (model.ts `keys` style; kept here so cloud attestation stays one folder). */
export const bindingKeys = {
  agent: (agentId: string) => `cloud-binding:${agentId}`,
  agentPrefix: () => 'cloud-binding:',
  instance: (key: string) => `cloud-instance:${key}`,
  instancePrefix: () => 'cloud-instance:',
} as const;

/** A claim no binding names is taken over by another agent only after this long (a bind in progress takes ms). */
export const ORPHAN_CLAIM_MS = 60_000;
/** Binding starts over when an unbind took its claim meanwhile; this many times at most. */
const MAX_ATTEMPTS = 5;

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
    const key = instanceKey(identity);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const seen = await this.#store.get<BindingRecord>(bindingKeys.agent(agentId));
      if (seen && (await this.#holds(seen))) {
        const again = await this.#attestAgain(seen, identity, at);
        if (again) return again;
        continue; // unbound meanwhile: this is a first binding again
      }
      const claimed = await this.#claim(key, { agentId, agentName: options.agentName, since: at, token: newToken() });
      if ('holder' in claimed) return { bound: false, refusal: alreadyBound(key, claimed.holder) };
      const record: BindingRecord = { agentId, identity, boundAt: at, attestedAt: at, claimToken: claimed.token };
      if (options.agentName) record.agentName = options.agentName;
      let written = false;
      await this.#store.update<BindingRecord>(bindingKeys.agent(agentId), (current) => {
        // Only over what was read: a binding another request of this agent wrote meanwhile is judged, not replaced.
        if (!sameRecord(current, seen)) return undefined;
        written = true;
        return record;
      });
      if (!written) {
        if (claimed.fresh) await this.#releaseClaim(key, agentId, claimed.token);
        continue;
      }
      // An unbind may have released the claim between taking it and writing the binding: then this binding is void.
      if (await this.#holds(record)) return { bound: true, binding: record };
    }
    throw new BitEnvoyError('BE_CONFLICT', `the cloud binding of agent ${options.agentName ?? agentId} changed ${MAX_ATTEMPTS} times while it was being made (is an operator unbinding it?); attest again`);
  }

  /** Forgets the agent's binding, its quarantine and every instance claim it holds. True if anything was removed. */
  async unbind(agentId: string): Promise<boolean> {
    let removed = await this.#store.delete(bindingKeys.agent(agentId));
    for (const { key, value } of await this.#store.list<InstanceClaim>(bindingKeys.instancePrefix())) {
      if (value.agentId !== agentId || value.releasedAt) continue;
      // Compare-and-set on the token: a claim taken again since it was listed belongs to a newer binding.
      removed = (await this.#release(key, value.token, agentId)) || removed;
    }
    return removed;
  }

  /** The agent's binding, if it still stands on its own claim. */
  async bindingOf(agentId: string): Promise<BindingRecord | undefined> {
    const binding = await this.#store.get<BindingRecord>(bindingKeys.agent(agentId));
    return binding && (await this.#holds(binding)) ? binding : undefined;
  }

  /** Quarantined agents and why: their cloud identity is in doubt until an operator unbinds them. */
  async quarantined(): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const binding of await this.#standing()) {
      if (binding.quarantine) found.set(binding.agentId, `quarantined since ${binding.quarantine.since}: ${binding.quarantine.reason}`);
    }
    return found;
  }

  /** Every agent's proved identity, for joining with discovery; quarantined agents have none. */
  async provedIdentities(): Promise<Map<string, ProvedIdentity>> {
    const identities = new Map<string, ProvedIdentity>();
    for (const binding of await this.#standing()) if (!binding.quarantine) identities.set(binding.agentId, binding.identity);
    return identities;
  }

  /** Bindings whose claim is still theirs: one list of each record kind, joined (at most one agent per instance). */
  async #standing(): Promise<BindingRecord[]> {
    const [bindings, claims] = await Promise.all([
      this.#store.list<BindingRecord>(bindingKeys.agentPrefix()),
      this.#store.list<InstanceClaim>(bindingKeys.instancePrefix()),
    ]);
    const claimOf = new Map(claims.map(({ key, value }) => [key, value]));
    return bindings.map(({ value }) => value).filter((binding) => standsOn(binding, claimOf.get(bindingKeys.instance(instanceKey(binding.identity)))));
  }

  async #holds(binding: BindingRecord): Promise<boolean> {
    return standsOn(binding, await this.#store.get<InstanceClaim>(bindingKeys.instance(instanceKey(binding.identity))));
  }

  /**
   * Takes the instance for `claim.agentId`: a free or released instance, or a claim of the same agent (its token is
   * kept, so concurrent attestations of one agent agree), or another agent's orphaned claim. Returns the token to
   * bind with, or the other agent holding it.
   */
  async #claim(key: string, claim: InstanceClaim): Promise<{ token: string; fresh: boolean } | { holder: InstanceClaim }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.#store.get<InstanceClaim>(bindingKeys.instance(key));
      if (current && !current.releasedAt && current.agentId !== claim.agentId && !(await this.#orphaned(key, current, claim.since))) return { holder: current };
      // Binding re-checks its claim at the end, so adopting without a write is safe: a change meanwhile is caught there.
      if (current && !current.releasedAt && current.agentId === claim.agentId && current.token !== undefined) return { token: current.token, fresh: false };
      let taken = false;
      await this.#store.update<InstanceClaim>(bindingKeys.instance(key), (stored) => {
        if (!sameClaim(stored, current)) return undefined;
        taken = true;
        return claim;
      });
      if (taken) return { token: claim.token!, fresh: true };
    }
    const holder = await this.#store.get<InstanceClaim>(bindingKeys.instance(key));
    return { holder: holder ?? claim };
  }

  /** Another agent's claim that its binding does not stand on, and old enough not to be a bind in progress. */
  async #orphaned(key: string, claim: InstanceClaim, at: string): Promise<boolean> {
    if (Date.parse(at) - Date.parse(claim.since) < ORPHAN_CLAIM_MS) return false;
    const binding = await this.#store.get<BindingRecord>(bindingKeys.agent(claim.agentId));
    return !(binding && instanceKey(binding.identity) === key && standsOn(binding, claim));
  }

  async #releaseClaim(key: string, agentId: string, token: string | undefined): Promise<void> {
    await this.#release(bindingKeys.instance(key), token, agentId);
  }

  /** Marks the claim at `storeKey` released if it is still `agentId`'s with `token`. True if it was. */
  async #release(storeKey: string, token: string | undefined, agentId: string): Promise<boolean> {
    let released = false;
    await this.#store.update<InstanceClaim>(storeKey, (current) => {
      if (!current || current.releasedAt || current.agentId !== agentId || current.token !== token) return undefined;
      released = true;
      return { ...current, releasedAt: new Date().toISOString() };
    });
    return released;
  }

  /**
   * A bound agent proved an identity again: the same instance refreshes the binding; another one quarantines it.
   * Undefined when the binding vanished meanwhile (an operator unbound it): the caller binds afresh.
   */
  async #attestAgain(existing: BindingRecord, identity: ProvedIdentity, at: string): Promise<BindResult | undefined> {
    let refusal: Refusal | undefined;
    let vanished = false;
    const stored = await this.#store.update<BindingRecord>(bindingKeys.agent(existing.agentId), (current) => {
      if (!current || current.claimToken !== existing.claimToken) vanished = true;
      else if (current.quarantine) refusal = stillQuarantined(current);
      else if (instanceKey(current.identity) !== instanceKey(identity)) return quarantine(current, identity, at);
      else if (isOlder(identity, current.identity)) refusal = replayed(current, identity);
      else return { ...current, identity, attestedAt: at };
      return undefined;
    });
    if (refusal) return { bound: false, refusal };
    if (vanished || !(await this.#holds(stored!))) return undefined;
    if (stored!.quarantine) return { bound: false, refusal: stillQuarantined(stored!) };
    return { bound: true, binding: stored! };
  }
}

function newToken(): string {
  return randomBytes(9).toString('base64url');
}

/** The binding stands when the instance's claim is live, the same agent's, with the binding's token. */
function standsOn(binding: BindingRecord, claim: InstanceClaim | undefined): boolean {
  return !!claim && !claim.releasedAt && claim.agentId === binding.agentId && claim.token === binding.claimToken;
}

function sameRecord(a: BindingRecord | undefined, b: BindingRecord | undefined): boolean {
  return a === b || (!!a && !!b && a.claimToken === b.claimToken && a.attestedAt === b.attestedAt && instanceKey(a.identity) === instanceKey(b.identity));
}

function sameClaim(a: InstanceClaim | undefined, b: InstanceClaim | undefined): boolean {
  return a === b || (!!a && !!b && a.agentId === b.agentId && a.token === b.token && a.since === b.since && a.releasedAt === b.releasedAt);
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
