/**
 * The hub's cloud settings, from `BITENVOY_*` variables: which provider scopes to list (discovery), how often and how
 * stale a listing may grow, and what to trust for agents' identity evidence (attestation). No variable set: cloud
 * discovery is off, and a group selecting on `cloud.*` matches no agent. Files are read once, at start; a bad one
 * stops the hub with a message naming the variable.
 *
 * Credentials are the providers' own standard ones, never BitEnvoy settings: AWS's default chain (environment, shared
 * config, instance role) and optionally a role to assume; GOOGLE_APPLICATION_CREDENTIALS or the GCE metadata server;
 * AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET or a managed identity.
 *
 * @example
 * const cloud = readCloudSettings(process.env); // undefined when nothing is configured
 */
import { readFileSync } from 'node:fs';
import { BitEnvoyError } from '../../lib/errors.js';
import type { AttestationTrust } from './attest-agent.js';
import { readAwsCertificates } from './attest-aws.js';
import { readJwks } from './attest-gcp.js';
import { checkOpensslVerifier } from './attest-openssl-verify.js';
import { readPemCertificates } from './attest-x509-chain.js';

export interface CloudSettings {
  aws?: { regions: string[]; roleArn?: string; endpoint?: string };
  gcp?: { projects: string[] };
  azure?: { subscriptions: string[]; endpoint?: string };
  refreshMs: number;
  staleAfterMs: number;
  /** How long a plan waits for a refresh of the scopes it selects on. */
  planWaitMs: number;
  trust: AttestationTrust;
}

/** Every cloud variable, with what it means: the README's cloud settings table is made from this. */
export const CLOUD_VARIABLES = [
  ['BITENVOY_AWS_REGIONS', 'AWS regions to list EC2 instances in, comma-separated, e.g. `eu-west-1,us-east-1`. Turns AWS discovery on.', '(off)'],
  ['BITENVOY_AWS_ROLE_ARN', 'A role to assume for listing (in each region, through its own STS endpoint); else the default credential chain.', '–'],
  ['BITENVOY_AWS_ENDPOINT', 'An EC2 endpoint to use instead of the regional one (VPC endpoint, test server).', '–'],
  ['BITENVOY_GCP_PROJECTS', 'GCP project ids to list Compute Engine instances in, comma-separated. Credentials: GOOGLE_APPLICATION_CREDENTIALS (a service-account key), else the metadata server. Turns GCP discovery on.', '(off)'],
  ['BITENVOY_AZURE_SUBSCRIPTIONS', 'Azure subscription ids to list VMs (and their network interfaces) in, comma-separated. Credentials: AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET, else the VM\'s managed identity. Turns Azure discovery on.', '(off)'],
  ['BITENVOY_AZURE_ENDPOINT', 'The ARM endpoint, for a sovereign cloud (e.g. `https://management.usgovcloudapi.net`).', 'https://management.azure.com'],
  ['BITENVOY_AWS_IDENTITY_CERTS', 'PEM file of AWS\'s "RSA" certificates for instance identity signatures (one per region/partition, from the EC2 documentation). Turns AWS attestation on.', '(off)'],
  ['BITENVOY_AWS_FIRST_BIND_SECONDS', 'Refuse a first binding to an instance launched longer ago than this (fleets whose agents enroll at boot).', '(no limit)'],
  ['BITENVOY_GCP_JWKS', "JSON file of Google's signing keys (saved from https://www.googleapis.com/oauth2/v3/certs; refresh it when Google rotates them). Turns GCP attestation on.", '(off)'],
  ['BITENVOY_AZURE_ROOTS', 'PEM file of the roots Azure IMDS attested data must chain to: the only trust anchors. Turns Azure attestation on; the hub host needs OpenSSL 3 (`openssl`).', '(off)'],
  ['BITENVOY_AZURE_INTERMEDIATES', 'PEM file of the intermediates between them and the signer. When set, the only certificates a path may go through; when not, certificates inside the envelope may serve, every CA constraint still holding.', '–'],
  ['BITENVOY_AZURE_SIGNER_NAMES', 'DNS names the attested data signer may have, comma-separated (sovereign clouds: `metadata.azure.us`…).', 'metadata.azure.com'],
  ['BITENVOY_CLOUD_REFRESH_SECONDS', 'How often each discovery scope is listed (±20 % jitter), besides right before a plan that selects on `cloud.*`.', '300'],
  ['BITENVOY_CLOUD_STALE_SECONDS', "Past this age a scope's last complete listing is no longer trusted: `cloud.*` facts of its agents are unknown and they are left out of groups that select on them.", '900'],
  ['BITENVOY_CLOUD_PLAN_WAIT_SECONDS', 'How long a plan that selects on `cloud.*` waits for fresh listings before it uses what it has.', '5'],
] as const;

export function readCloudSettings(env: NodeJS.ProcessEnv, publicUrl: string): CloudSettings | undefined {
  const regions = list(env.BITENVOY_AWS_REGIONS);
  const projects = list(env.BITENVOY_GCP_PROJECTS);
  const subscriptions = list(env.BITENVOY_AZURE_SUBSCRIPTIONS);
  const trust = readTrust(env, publicUrl);
  if (!regions.length && !projects.length && !subscriptions.length && !trust.aws && !trust.gcp && !trust.azure) return undefined;
  for (const project of projects) {
    if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(project)) throw new BitEnvoyError('BE_USAGE', `BITENVOY_GCP_PROJECTS: \`${project}\` is not a project id (6-30 lowercase letters, digits and dashes; not the project number)`);
  }
  for (const subscription of subscriptions) {
    if (!/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/.test(subscription)) throw new BitEnvoyError('BE_USAGE', `BITENVOY_AZURE_SUBSCRIPTIONS: \`${subscription}\` is not a subscription id (a GUID)`);
  }
  for (const region of regions) {
    if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new BitEnvoyError('BE_USAGE', `BITENVOY_AWS_REGIONS: \`${region}\` is not an AWS region name; write e.g. \`eu-west-1,us-east-1\``);
  }
  const roleArn = env.BITENVOY_AWS_ROLE_ARN || undefined;
  if (roleArn && !/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn)) {
    throw new BitEnvoyError('BE_USAGE', `BITENVOY_AWS_ROLE_ARN=${roleArn}: expected a role ARN like arn:aws:iam::123456789012:role/bitenvoy-discovery`);
  }
  return {
    ...(regions.length ? { aws: { regions, ...(roleArn ? { roleArn } : {}), ...(env.BITENVOY_AWS_ENDPOINT ? { endpoint: env.BITENVOY_AWS_ENDPOINT } : {}) } } : {}),
    ...(projects.length ? { gcp: { projects } } : {}),
    ...(subscriptions.length ? { azure: { subscriptions, ...(env.BITENVOY_AZURE_ENDPOINT ? { endpoint: env.BITENVOY_AZURE_ENDPOINT } : {}) } } : {}),
    refreshMs: seconds(env, 'BITENVOY_CLOUD_REFRESH_SECONDS', 300, 1, 86_400) * 1000,
    staleAfterMs: seconds(env, 'BITENVOY_CLOUD_STALE_SECONDS', 900, 1, 7 * 86_400) * 1000,
    planWaitMs: seconds(env, 'BITENVOY_CLOUD_PLAN_WAIT_SECONDS', 5, 0, 120) * 1000,
    trust,
  };
}

function readTrust(env: NodeJS.ProcessEnv, publicUrl: string): AttestationTrust {
  const trust: AttestationTrust = {};
  if (env.BITENVOY_AWS_IDENTITY_CERTS) {
    const firstBind = env.BITENVOY_AWS_FIRST_BIND_SECONDS ? seconds(env, 'BITENVOY_AWS_FIRST_BIND_SECONDS', 0, 1, 365 * 86_400) * 1000 : undefined;
    trust.aws = { certificates: readAwsCertificates(file(env, 'BITENVOY_AWS_IDENTITY_CERTS'), 'BITENVOY_AWS_IDENTITY_CERTS'), ...(firstBind ? { firstBindWithinMs: firstBind } : {}) };
  }
  if (env.BITENVOY_GCP_JWKS) trust.gcp = { keys: readJwks(file(env, 'BITENVOY_GCP_JWKS'), 'BITENVOY_GCP_JWKS'), hubUrl: `${publicUrl}/bitenvoy` };
  if (env.BITENVOY_AZURE_ROOTS) {
    checkOpensslVerifier('BITENVOY_AZURE_ROOTS');
    const signerNames = list(env.BITENVOY_AZURE_SIGNER_NAMES);
    trust.azure = {
      roots: readPemCertificates(file(env, 'BITENVOY_AZURE_ROOTS'), 'BITENVOY_AZURE_ROOTS'),
      ...(env.BITENVOY_AZURE_INTERMEDIATES ? { intermediates: readPemCertificates(file(env, 'BITENVOY_AZURE_INTERMEDIATES'), 'BITENVOY_AZURE_INTERMEDIATES') } : {}),
      ...(signerNames.length ? { signerNames } : {}),
    };
  }
  return trust;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function file(env: NodeJS.ProcessEnv, name: string): string {
  try {
    return readFileSync(env[name]!, 'utf8');
  } catch (err) {
    throw new BitEnvoyError('BE_USAGE', `${name}=${env[name]}: cannot read it (${(err as Error).message}); point it at the file`);
  }
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new BitEnvoyError('BE_USAGE', `${name}=${raw}: expected a number of seconds from ${min} to ${max}`);
  return value;
}
