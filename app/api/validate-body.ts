import { Ajv, type ValidateFunction } from 'ajv';
import { describeSchemaError, JSON_BODY } from '../../config-schema/describe-schema-error.js';
import { agentProtocolSchema } from '../../lib/agent-protocol-schema.js';
import { BitEnvoyError } from '../../lib/errors.js';

// The agent API's bodies are `$ref`s into the contract's schema; `tsType` is for its type generator only.
const ajv = new Ajv({ allErrors: false, strict: false, verbose: true }).addKeyword('tsType').addSchema(withoutTypeDocs(agentProtocolSchema()));
const compiled = new WeakMap<object, ValidateFunction>();

/**
 * Checks a parsed body against its schema; the first problem becomes a 400 naming the field, what was expected and
 * what came, e.g. "events[3].seq: expected an integer ≥ 1, got -2" — in the words of the same translator that
 * explains the config files (config-schema/describe-schema-error.ts).
 *
 * @example
 * const body = validateBody<ClaimRequest>(claimBody, await readJsonBody(ctx.req, limit));
 */
export function validateBody<T>(schema: object, body: unknown): T {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(body)) return body as T;
  const err = validate.errors?.[0];
  throw new BitEnvoyError('BE_BAD_REQUEST', err ? describeSchemaError(err, err.instancePath.split('/').slice(1).map(unescapePointer), JSON_BODY).message : 'the body is not valid');
}

/**
 * The contract's schema without the descriptions of whole objects, enums and unions: those document a type (they
 * become its TSDoc), while a message needs what a field expects, which a field's own description says, or its type.
 */
function withoutTypeDocs<T extends { definitions: Record<string, Record<string, unknown>> }>(schema: T): T {
  for (const definition of Object.values(schema.definitions)) {
    if (definition.type === 'object' || 'enum' in definition || 'oneOf' in definition) delete definition.description;
  }
  return schema;
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
