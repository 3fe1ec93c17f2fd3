/**
 * What the hub knows about a cloud instance, from the provider's own API (discovery) or from evidence the provider
 * signed (attestation). Discovery and attestation meet on {@link instanceKey}: an agent is bound to exactly one
 * instance, proved by signed evidence, and only then does it get that instance's `cloud.*` labels.
 *
 * @example
 * instanceKey({ provider: 'aws', account: '123456789012', instanceId: 'i-0abc' }); // 'aws/123456789012/i-0abc'
 */
import type { CloudProvider } from '../../lib/protocol.js';

/** The providers, as the agent API names them (lib/protocol.ts). */
export type { CloudProvider } from '../../lib/protocol.js';

/** One instance as a provider's API lists it. */
export interface CloudInstance {
  provider: CloudProvider;
  /** AWS account id, GCP project id, Azure subscription id. */
  account: string;
  /** AWS region (`eu-west-1`), GCP region (`europe-west1`), Azure location (`westeurope`). */
  region: string;
  /** AWS availability zone, GCP zone; Azure availability zone when it has one. */
  zone?: string;
  /** AWS `i-…`, GCP numeric instance id, Azure `vmId` (a UUID). */
  instanceId: string;
  instanceType?: string;
  privateIp?: string;
  /** Raw tag keys and values (GCP: labels), never renamed. */
  tags: Record<string, string>;
}

/** What an agent's provider-signed evidence proves, once verified: which instance it runs on. */
export interface ProvedIdentity {
  provider: CloudProvider;
  account: string;
  instanceId: string;
  region?: string;
  zone?: string;
  /** When the evidence was made, as the provider signed it (used against replays and for freshness). */
  issuedAt?: string;
}

/** The key an instance and a proved identity share. */
export function instanceKey(id: Pick<CloudInstance, 'provider' | 'account' | 'instanceId'>): string {
  return `${id.provider}/${id.account}/${id.instanceId}`;
}

/**
 * One discovery scope — an AWS account and region, a GCP project, an Azure subscription — that lists every instance
 * it can see. `list` resolves only when every page arrived; any failed page rejects it, so a partial list can never
 * replace the last good snapshot.
 */
export interface DiscoveryScope {
  /** Stable and human, e.g. `aws/123456789012/eu-west-1`, `gcp/shop-prod`, `azure/0000-…`. */
  id: string;
  provider: CloudProvider;
  list(signal?: AbortSignal): Promise<CloudInstance[]>;
}

/** A provider said to slow down: try this scope again no sooner than `retryAfterMs` from now. */
export class ThrottledError extends Error {
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.name = 'ThrottledError';
    this.retryAfterMs = retryAfterMs;
  }
}
