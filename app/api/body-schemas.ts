/**
 * JSON Schemas of every request body the hub accepts, bounded in size and strict about unknown fields. The agent API's
 * bodies (and a deployment's) are references into the one schema of the wire contract, lib/agent-protocol.schema.json,
 * from which their types are generated too; the admin API's own bodies are here.
 */
import { protocolRef } from '../../lib/agent-protocol-schema.js';

export const enrollBody = protocolRef('EnrollRequest');
export const claimBody = protocolRef('ClaimRequest');
export const leaseBody = protocolRef('LeaseRequest');
export const eventsBody = protocolRef('EventsRequest');
export const logsBody = protocolRef('LogsRequest');
export const cloudNonceBody = protocolRef('CloudNonceRequest');
export const cloudAttestBody = protocolRef('CloudAttestRequest');

export const createDeploymentBody = protocolRef('CreateDeploymentRequest');

const repository = { type: 'string', pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$', description: 'owner/name' } as const;
const environmentName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$', description: 'an environment name' } as const;

/** `POST /api/v1/environments/lock` and `…/unlock`: one environment, or `global` for every one of the repository. */
export const environmentActionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['repository'],
  properties: {
    repository,
    environment: environmentName,
    global: { type: 'boolean' },
    reason: { type: 'string', minLength: 1, maxLength: 500 },
    for: { type: 'string', minLength: 1, maxLength: 20, description: 'a duration like `30m` or `2h`' },
    by: { type: 'string', pattern: '^[\\w.@-]{1,64}$', description: 'who asks, for the lock and the audit log: letters, digits, `.`, `@`, `-`, at most 64' },
  },
} as const;

/** `POST /api/v1/environments/rollback`: back to the previous success, or to the one `to` names. */
export const rollbackBody = {
  type: 'object',
  additionalProperties: false,
  required: ['repository', 'environment'],
  properties: {
    repository,
    environment: environmentName,
    to: { type: 'string', pattern: '^(dep_[A-Za-z0-9_-]{1,40}|[0-9a-fA-F]{7,40})$', description: 'a deployment id (`dep_…`) or a commit SHA of 7 to 40 hex digits' },
  },
} as const;

export const enrollmentTokenBody = {
  type: 'object',
  additionalProperties: false,
  properties: { ttlSeconds: { type: 'integer', minimum: 60, maximum: 30 * 86_400 } },
} as const;
