/**
 * The agent API's JSON Schema (lib/agent-protocol.schema.json) as code uses it: with the `ErrorCode` definition's
 * `enum` filled from the one error catalog (lib/errors.ts), so the codes are never listed twice.
 *
 * @example
 * ajv.addSchema(agentProtocolSchema());
 * ajv.getSchema(`${AGENT_PROTOCOL_SCHEMA_ID}#/definitions/JobSpec`);
 */
import schema from './agent-protocol.schema.json' with { type: 'json' };
import { ERROR_CODES } from './errors.js';

/** The schema's `$id`: `$ref`s into it start with this. */
export const AGENT_PROTOCOL_SCHEMA_ID = schema.$id;

/** A name of one of the schema's definitions, e.g. `JobSpec` or `EventsRequest`. */
export type ProtocolDefinition = keyof typeof schema.definitions;

/**
 * A fresh copy of the schema, its error codes filled in from `ERROR_CODES`.
 *
 * @example
 * agentProtocolSchema().definitions.ErrorCode.enum; // ['BE_BAD_REQUEST', 'BE_BODY_TOO_LARGE', …]
 */
export function agentProtocolSchema(): AgentProtocolSchema {
  const copy = structuredClone(schema) as AgentProtocolSchema;
  copy.definitions.ErrorCode = { ...copy.definitions.ErrorCode, enum: Object.keys(ERROR_CODES) };
  return copy;
}

/** The schema as plain data: its id, its title and its definitions by name. */
export interface AgentProtocolSchema {
  $id: string;
  title: string;
  definitions: Record<ProtocolDefinition, Record<string, unknown>>;
}

/**
 * A `$ref` to one definition, for schemas that are the contract's own (the hub's request bodies).
 *
 * @example
 * protocolRef('ClaimRequest'); // { $ref: 'https://bitenvoy.dev/schema/agent-protocol.schema.json#/definitions/ClaimRequest' }
 */
export function protocolRef(name: ProtocolDefinition): { $ref: string } {
  return { $ref: `${AGENT_PROTOCOL_SCHEMA_ID}#/definitions/${name}` };
}
