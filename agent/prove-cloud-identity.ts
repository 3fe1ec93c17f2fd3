/**
 * Keeps the hub sure which cloud instance this agent runs on (agent.yml `cloud`): at start and every `every`, a hub
 * nonce, the provider's signed evidence for it from the instance metadata service, and the evidence sent unchanged.
 * A refusal or an unreachable metadata service is logged and tried again later; it never stops deployments — the
 * hub simply has no verified cloud facts for this agent meanwhile.
 *
 * @example
 * void proveCloudIdentityUntil(signal, { cloud: config.cloud, client, log });
 */
import type { AgentConfigFile } from '../config-schema/types.generated.js';
import type { Logger } from '../lib/logger.js';
import { parseDuration } from '../lib/parse-duration.js';
import { gatherEvidence } from './cloud-evidence.js';
import { sleep, type HubClient } from './hub-client.js';

/** After a failure, try again this soon (then the normal interval). */
const RETRY_AFTER_FAILURE_MS = 60_000;

export async function proveCloudIdentity(cloud: NonNullable<AgentConfigFile['cloud']>, client: HubClient, signal?: AbortSignal): Promise<string> {
  const { provider } = cloud;
  const challenge = provider === 'aws' ? undefined : await client.cloudNonce(provider, signal);
  const evidence = await gatherEvidence(provider, {
    ...(challenge ? { nonce: challenge.nonce } : {}),
    ...(challenge?.audience ? { audience: challenge.audience } : {}),
    ...(cloud.metadataUrl ? { baseUrl: cloud.metadataUrl } : {}),
  });
  const { identity } = await client.attest(evidence, signal);
  return `${identity.provider}/${identity.account}/${identity.instanceId}`;
}

/** Proves the identity now and then every `every` until `signal` aborts. */
export async function proveCloudIdentityUntil(signal: AbortSignal, deps: { cloud: NonNullable<AgentConfigFile['cloud']>; client: HubClient; log: Logger }): Promise<void> {
  const every = parseDuration(deps.cloud.every ?? '1h', 'agent.yml cloud.every');
  while (!signal.aborted) {
    let wait = every;
    try {
      const instance = await proveCloudIdentity(deps.cloud, deps.client, signal);
      deps.log.info({ instance }, `the hub verified this agent runs on ${instance}`);
    } catch (err) {
      if (signal.aborted) return;
      wait = Math.min(every, RETRY_AFTER_FAILURE_MS);
      deps.log.warn({ err: (err as Error).message }, `proving this agent's cloud instance failed; trying again in ${Math.round(wait / 1000)} s: ${(err as Error).message}`);
    }
    await sleep(wait, signal).catch(() => undefined);
  }
}
