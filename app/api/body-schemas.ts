/**
 * JSON Schemas of every request body the hub accepts, bounded in size and strict about unknown fields. They mirror
 * the types in lib/protocol.ts.
 */
import { MAX_BATCH_ITEMS, MAX_LOG_CHUNK_CHARS } from '../../lib/protocol.js';

const seq = { type: 'integer', minimum: 1, maximum: 1_000_000_000, description: 'an integer ≥ 1' } as const;
const isoTime = {
  type: 'string',
  maxLength: 40,
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$',
  description: 'an ISO 8601 time like `2025-01-31T12:00:00.000Z`',
} as const;
const claimId = { type: 'string', minLength: 8, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$', description: 'the idempotency key of the claim' } as const;
const message = { type: 'string', maxLength: 4000 } as const;

export const enrollBody = {
  type: 'object',
  additionalProperties: false,
  required: ['token', 'name', 'labels', 'version'],
  properties: {
    token: { type: 'string', minLength: 1, maxLength: 200 },
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$', description: 'letters, digits, `.`, `_`, `-`, at most 63' },
    labels: {
      type: 'object',
      maxProperties: 64,
      propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,252}$' },
      additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9._-]{0,63}$', description: 'up to 63 letters, digits, `.`, `_`, `-`' },
    },
    version: { type: 'string', maxLength: 50 },
  },
} as const;

export const claimBody = { type: 'object', additionalProperties: false, required: ['claimId'], properties: { claimId } } as const;
export const leaseBody = claimBody;

const stateEvent = {
  type: 'object',
  additionalProperties: false,
  required: ['seq', 'at', 'type', 'state'],
  properties: {
    seq,
    at: isoTime,
    type: { const: 'state' },
    state: { enum: ['fetching', 'running', 'succeeded', 'failed', 'refused', 'cancelled'] },
    message,
  },
} as const;

const stepEvent = {
  type: 'object',
  additionalProperties: false,
  required: ['seq', 'at', 'type', 'step', 'status'],
  properties: {
    seq,
    at: isoTime,
    type: { const: 'step' },
    step: {
      type: 'object',
      additionalProperties: false,
      required: ['index', 'name'],
      properties: { index: { type: 'integer', minimum: 0, maximum: 1000 }, name: { type: 'string', maxLength: 100 } },
    },
    status: { enum: ['started', 'succeeded', 'failed', 'timed_out'] },
    exitCode: { type: ['integer', 'null'] },
    durationMs: { type: 'number', minimum: 0 },
    message,
  },
} as const;

export const eventsBody = {
  type: 'object',
  additionalProperties: false,
  required: ['claimId', 'events'],
  properties: {
    claimId,
    events: {
      type: 'array',
      maxItems: MAX_BATCH_ITEMS,
      items: { type: 'object', required: ['type'], properties: { type: { enum: ['state', 'step'] } }, if: { properties: { type: { const: 'state' } } }, then: stateEvent, else: stepEvent },
    },
  },
} as const;

export const logsBody = {
  type: 'object',
  additionalProperties: false,
  required: ['claimId', 'chunks'],
  properties: {
    claimId,
    chunks: {
      type: 'array',
      maxItems: MAX_BATCH_ITEMS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['seq', 'at', 'stream', 'data'],
        properties: {
          seq,
          at: isoTime,
          step: { type: 'integer', minimum: 0, maximum: 1000 },
          stream: { enum: ['stdout', 'stderr', 'system'] },
          data: { type: 'string', maxLength: MAX_LOG_CHUNK_CHARS },
        },
      },
    },
  },
} as const;

export const createDeploymentBody = {
  type: 'object',
  additionalProperties: false,
  required: ['repository', 'ref', 'environment'],
  properties: {
    repository: { type: 'string', pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$', description: 'owner/name' },
    ref: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\s~^:?*\\[\\\\]+$', description: 'a branch, tag or commit SHA' },
    environment: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$', description: 'an environment name' },
  },
} as const;

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

const provider = { enum: ['aws', 'gcp', 'azure'] } as const;
const evidenceText = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const;

export const cloudNonceBody = { type: 'object', additionalProperties: false, required: ['provider'], properties: { provider } } as const;

export const cloudAttestBody = {
  type: 'object',
  additionalProperties: false,
  required: ['evidence'],
  properties: {
    evidence: {
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['provider', 'document', 'signature'], properties: { provider: { const: 'aws' }, document: evidenceText(8192), signature: evidenceText(1024) } },
        { type: 'object', additionalProperties: false, required: ['provider', 'token', 'nonce'], properties: { provider: { const: 'gcp' }, token: evidenceText(16_384), nonce: evidenceText(64) } },
        {
          type: 'object',
          additionalProperties: false,
          required: ['provider', 'attested', 'nonce'],
          properties: {
            provider: { const: 'azure' },
            attested: { type: 'object', additionalProperties: false, required: ['signature'], properties: { encoding: { type: 'string', maxLength: 20 }, signature: evidenceText(65_536) } },
            nonce: evidenceText(64),
          },
        },
      ],
    },
  },
} as const;
