/**
 * The hub's cloud side in one place: discovery (what each provider scope lists), attestation (which instance each
 * agent proved it runs on), and their join into the `cloud.*` facts a plan selects on. The HTTP routes and the
 * engine call this; the modules it uses decide.
 *
 * @example
 * const cloud = await CloudService.start({ settings, store, log });
 * const facts = await cloud.facts(agents, group.selector); // refreshes first when the selector needs cloud facts
 */
import type { LabelSelector } from '../../config-schema/types.generated.js';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { AgentRecord } from '../model.js';
import type { AgentFacts } from '../rollout/select-agents.js';
import type { Store } from '../store/store.js';
import type { CloudEvidence } from '../../lib/protocol.js';
import { attestAgent } from './attest-agent.js';
import { gcpAudience } from './attest-gcp.js';
import { issueNonce } from './attest-nonce.js';
import { refusalError } from './attest-refusal.js';
import { CloudDiscovery } from './cloud-discovery.js';
import { CLOUD_LABEL_PREFIX, joinCloudFacts, type ScopeState } from './cloud-facts.js';
import type { CloudProvider, ProvedIdentity } from './cloud-instance.js';
import type { CloudSettings } from './cloud-settings.js';
import { awsScopes } from './discovery-aws.js';
import { azureScopes } from './discovery-azure.js';
import { gcpScopes } from './discovery-gcp.js';
import { IdentityBindings } from './identity-bindings.js';
import { azureAccessToken } from './token-azure.js';
import { gcpAccessToken } from './token-gcp.js';

export class CloudService {
  readonly #settings: CloudSettings | undefined;
  readonly #store: Store;
  readonly #discovery: CloudDiscovery | undefined;
  readonly #bindings: IdentityBindings;

  private constructor(settings: CloudSettings | undefined, store: Store, discovery: CloudDiscovery | undefined) {
    this.#settings = settings;
    this.#store = store;
    this.#discovery = discovery;
    this.#bindings = new IdentityBindings(store);
  }

  /** Builds the configured scopes and lists each once before returning (failures are kept as state, never thrown). */
  static async start(options: { settings: CloudSettings | undefined; store: Store; log: Logger; leading?: () => boolean }): Promise<CloudService> {
    const { settings, store, log } = options;
    const scopes = [
      ...(settings?.aws ? awsScopes(settings.aws) : []),
      ...(settings?.gcp ? gcpScopes({ projects: settings.gcp.projects, getAccessToken: gcpAccessToken() }) : []),
      ...(settings?.azure ? azureScopes({ ...settings.azure, getAccessToken: azureAccessToken(settings.azure.endpoint ? { resource: `${settings.azure.endpoint.replace(/\/$/, '')}/` } : {}) }) : []),
    ];
    const discovery = settings && scopes.length ? new CloudDiscovery({ scopes, store, log, intervalMs: settings.refreshMs, ...(options.leading ? { leading: options.leading } : {}) }) : undefined;
    await discovery?.start();
    return new CloudService(settings, store, discovery);
  }

  stop(): void {
    this.#discovery?.stop();
  }

  /** Each agent's verified `cloud.*` facts (or why unknown); listings are refreshed first when `selector` needs them. */
  async facts(agents: AgentRecord[], selector?: LabelSelector): Promise<ReadonlyMap<string, AgentFacts>> {
    if (this.#discovery && this.#settings && selector && selectsOnCloud(selector)) await this.#discovery.refreshBeforePlan(this.#settings.planWaitMs);
    const [bindings, quarantined] = await Promise.all([this.#bindings.provedIdentities(), this.#bindings.quarantined()]);
    const facts = joinCloudFacts(agents, bindings, this.scopes(), { now: Date.now(), staleAfterMs: this.#settings?.staleAfterMs ?? 0 });
    // A quarantined agent's identity is in doubt, not absent: unknown, so NotIn and DoesNotExist cannot pick it.
    for (const [agentId, why] of quarantined) if (facts.has(agentId)) facts.set(agentId, { labels: {}, unknown: why });
    return facts;
  }

  scopes(): ScopeState[] {
    return this.#discovery?.states() ?? [];
  }

  /** A single-use nonce for `agent`'s next evidence (and for GCP, the audience to ask its metadata server for). */
  async nonce(agent: AgentRecord, provider: CloudProvider): Promise<{ nonce: string; expiresAt: string; audience?: string }> {
    this.#trustFor(provider);
    const issued = await issueNonce(this.#store, agent.id, { provider });
    const gcp = this.#settings?.trust.gcp;
    return { ...issued, ...(provider === 'gcp' && gcp ? { audience: gcpAudience(gcp.hubUrl, issued.nonce) } : {}) };
  }

  /** Verifies `evidence` and binds `agent` to the instance it proves; throws the refusal (403/409) otherwise. */
  async attest(agent: AgentRecord, evidence: CloudEvidence): Promise<ProvedIdentity> {
    this.#trustFor(evidence.provider);
    const result = await attestAgent(this.#store, agent, evidence, this.#settings!.trust);
    if (!result.bound) throw refusalError(result.refusal);
    return result.binding.identity;
  }

  /** Forgets `agentId`'s cloud binding (and quarantine): it attests afresh. False when it had none. */
  unbind(agentId: string): Promise<boolean> {
    return this.#bindings.unbind(agentId);
  }

  #trustFor(provider: CloudProvider): void {
    if (!this.#settings?.trust[provider]) {
      const variable = { aws: 'BITENVOY_AWS_IDENTITY_CERTS', gcp: 'BITENVOY_GCP_JWKS', azure: 'BITENVOY_AZURE_ROOTS' }[provider];
      throw new BitEnvoyError('BE_CLOUD_NOT_CONFIGURED', `this hub does not verify ${provider} identity evidence: its operator can set ${variable} (see the README, "Cloud discovery")`);
    }
  }
}

/** True when any requirement of the selector is on a `cloud.*` key. */
export function selectsOnCloud(selector: LabelSelector): boolean {
  return Object.keys(selector.matchLabels ?? {}).some((k) => k.startsWith(CLOUD_LABEL_PREFIX)) || (selector.matchExpressions ?? []).some((r) => r.key.startsWith(CLOUD_LABEL_PREFIX));
}

/** Discovery scopes as /healthz shows them: what each covers, its last complete listing, its last error. */
export function describeScopes(scopes: ScopeState[]): Array<{ id: string; instances?: number; listedAt?: string; lastError?: { at: string; message: string } }> {
  return scopes.map((s) => ({ id: s.id, ...(s.lastGood ? { instances: s.lastGood.instances.length, listedAt: s.lastGood.at } : {}), ...(s.lastError ? { lastError: s.lastError } : {}) }));
}
