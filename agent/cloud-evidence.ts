/**
 * The agent's side of cloud attestation: it asks its instance metadata service for the evidence the provider signs
 * and hands it to the hub unchanged (the hub verifies; the agent never asserts facts about itself). The metadata
 * service answers only from inside the instance, which is what makes the evidence mean "this agent runs there".
 *
 * - AWS: IMDSv2 — a session token first (PUT, never a plain GET: that stops SSRF-style reads), then the instance
 *   identity document and its RSA signature, byte for byte.
 * - GCP: the default service account's identity token with `format=full`, for the audience the hub gave (it carries
 *   the hub's nonce).
 * - Azure: the attested document for the hub's nonce.
 *
 * @example
 * const evidence = await gatherEvidence('gcp', { audience: 'https://hub.example/bitenvoy?nonce=n_…', nonce: 'n_…' });
 */
import type { CloudEvidence, CloudProvider } from '../lib/protocol.js';
import { httpRequest } from './http-request.js';

/** What the agent sends to the hub: exactly the shapes the hub's attestation reads. */
export type GatheredEvidence = CloudEvidence;

export interface GatherOptions {
  /** The hub's single-use nonce (GCP, Azure). */
  nonce?: string;
  /** GCP: the exact audience the hub expects (it contains the nonce). */
  audience?: string;
  /** The metadata service; its link-local address unless a test serves one. */
  baseUrl?: string;
  timeoutMs?: number;
}

const METADATA = 'http://169.254.169.254';
const IMDS_TOKEN_TTL_SECONDS = '60';

export async function gatherEvidence(provider: CloudProvider, options: GatherOptions = {}): Promise<GatheredEvidence> {
  const base = (options.baseUrl ?? (provider === 'gcp' ? 'http://metadata.google.internal' : METADATA)).replace(/\/$/, '');
  const timeoutMs = options.timeoutMs ?? 2000;
  switch (provider) {
    case 'aws': {
      const token = await ask('PUT', `${base}/latest/api/token`, { 'x-aws-ec2-metadata-token-ttl-seconds': IMDS_TOKEN_TTL_SECONDS }, timeoutMs, 'the IMDSv2 session token');
      const headers = { 'x-aws-ec2-metadata-token': token };
      const document = await ask('GET', `${base}/latest/dynamic/instance-identity/document`, headers, timeoutMs, 'the instance identity document');
      const signature = await ask('GET', `${base}/latest/dynamic/instance-identity/signature`, headers, timeoutMs, 'the instance identity signature');
      return { provider, document, signature: signature.trim() };
    }
    case 'gcp': {
      const { audience, nonce } = needs(options, provider);
      const url = `${base}/computeMetadata/v1/instance/service-accounts/default/identity?audience=${encodeURIComponent(audience)}&format=full`;
      const token = await ask('GET', url, { 'metadata-flavor': 'Google' }, timeoutMs, 'the instance identity token');
      return { provider, token: token.trim(), nonce };
    }
    case 'azure': {
      const nonce = options.nonce;
      if (!nonce) throw new Error('azure attestation needs the hub nonce: ask the hub for one first');
      const text = await ask('GET', `${base}/metadata/attested/document?api-version=2020-09-01&nonce=${encodeURIComponent(nonce)}`, { metadata: 'true' }, timeoutMs, 'the attested document');
      const attested = parseAttested(text);
      return { provider, attested, nonce };
    }
  }
}

function needs(options: GatherOptions, provider: CloudProvider): { audience: string; nonce: string } {
  if (!options.audience || !options.nonce) throw new Error(`${provider} attestation needs the hub's audience and nonce: ask the hub for them first`);
  return { audience: options.audience, nonce: options.nonce };
}

async function ask(method: string, url: string, headers: Record<string, string>, timeoutMs: number, what: string): Promise<string> {
  let res;
  try {
    res = await httpRequest(method, url, { headers, timeoutMs });
  } catch (err) {
    throw new Error(`cannot reach the instance metadata service for ${what} (${(err as Error).message}): is this agent on a cloud instance, and is the metadata service enabled?`, { cause: err });
  }
  if (res.status !== 200) throw new Error(`the instance metadata service answered ${res.status} for ${what}: ${res.text.slice(0, 200)}`);
  return res.text;
}

function parseAttested(text: string): { encoding?: string; signature: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('the attested document is not JSON; is this an Azure VM?');
  }
  const { encoding, signature } = (parsed ?? {}) as { encoding?: unknown; signature?: unknown };
  if (typeof signature !== 'string' || !signature) throw new Error('the attested document has no signature');
  return { ...(typeof encoding === 'string' ? { encoding } : {}), signature };
}
