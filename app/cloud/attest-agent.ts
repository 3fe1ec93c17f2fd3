/**
 * One attestation, start to end: an authenticated agent sends its provider's signed evidence; the hub spends the
 * nonce it issued (GCP, Azure), verifies the evidence against the configured trust, and binds the agent to the proved
 * instance. The hub route that calls this stays thin; everything that decides lives here and in the attest-* modules.
 *
 * The nonce is spent before verifying, so a failed attempt costs it too: a nonce is one try, never a way to probe.
 * One exception: Azure evidence the hub cannot even read (a `malformed` refusal) is refused before the nonce is
 * touched. Reading checks nothing secret and trusts nothing, so it lets nobody probe; and an agent whose evidence was
 * mangled on the way can resend it with the same nonce instead of fetching new attested data.
 *
 * @example
 * const { nonce } = await issueNonce(store, agent.id, { provider: 'gcp' });
 * // the agent fetches a token for gcpAudience(trust.gcp.hubUrl, nonce), then:
 * const result = await attestAgent(store, agent, { provider: 'gcp', token, nonce }, trust);
 * if (!result.bound) throw refusalError(result.refusal);
 */
import type { Store } from '../store/store.js';
import { verifyAwsIdentity, type AwsTrust } from './attest-aws.js';
import type { CloudEvidence } from '../../lib/protocol.js';
import { checkAzureEvidence, readAzureEvidence, type AzureTrust } from './attest-azure.js';
import { gcpAudience, verifyGcpIdentity, type GcpTrust } from './attest-gcp.js';
import { consumeNonce } from './attest-nonce.js';
import type { Refusal, Verified } from './attest-refusal.js';
import { IdentityBindings, type BindResult } from './identity-bindings.js';

/** What an agent sends, per provider: the wire type (lib/protocol.ts), which the agent shares without importing the hub. */
export type { CloudEvidence } from '../../lib/protocol.js';

/** The hub's configured trust, per provider; a provider left out is refused. */
export interface AttestationTrust {
  aws?: AwsTrust & {
    /** Allow a first binding only this soon after the instance launched (see attest-aws.ts on replay). */
    firstBindWithinMs?: number;
  };
  gcp?: GcpTrust & {
    /** The hub URL that, with the nonce, makes the audience (`https://hub.example/bitenvoy`). */
    hubUrl: string;
  };
  azure?: AzureTrust;
}

export async function attestAgent(
  store: Store,
  agent: { id: string; name?: string },
  evidence: CloudEvidence,
  trust: AttestationTrust,
  now = Date.now(),
): Promise<BindResult> {
  const bindings = new IdentityBindings(store);
  const verified = await verifyEvidence(store, bindings, agent.id, evidence, trust, now);
  if (!verified.ok) return { bound: false, refusal: verified.refusal };
  return bindings.bind(agent.id, verified.identity, { agentName: agent.name, now });
}

async function verifyEvidence(
  store: Store,
  bindings: IdentityBindings,
  agentId: string,
  evidence: CloudEvidence,
  trust: AttestationTrust,
  now: number,
): Promise<Verified> {
  switch (evidence.provider) {
    case 'aws': {
      if (!trust.aws) return notConfigured('aws');
      const first = !(await bindings.bindingOf(agentId));
      return verifyAwsIdentity(evidence, trust.aws, { now, launchedWithinMs: first ? trust.aws.firstBindWithinMs : undefined });
    }
    case 'gcp': {
      if (!trust.gcp) return notConfigured('gcp');
      const spent = await consumeNonce(store, evidence.nonce, agentId, now);
      if (spent) return refused(spent);
      return verifyGcpIdentity(evidence.token, trust.gcp, { audience: gcpAudience(trust.gcp.hubUrl, evidence.nonce), now });
    }
    case 'azure': {
      if (!trust.azure) return notConfigured('azure');
      // Read first: an envelope the hub cannot even read (mangled on the way) leaves the nonce unspent for a resend.
      const read = readAzureEvidence(evidence.attested);
      if (!read.ok) return read;
      const spent = await consumeNonce(store, evidence.nonce, agentId, now);
      if (spent) return refused(spent);
      return checkAzureEvidence(read.evidence, trust.azure, { nonce: evidence.nonce, now });
    }
    default:
      return notConfigured(String((evidence as { provider: unknown }).provider));
  }
}

function refused(refusal: Refusal): Verified {
  return { ok: false, refusal };
}

function notConfigured(provider: string): Verified {
  return refused({
    reason: 'unsupported',
    message: `this hub is not configured to verify ${provider} identity evidence; an operator must configure the provider's signing certificates or keys on the hub first`,
  });
}
