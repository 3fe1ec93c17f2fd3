/**
 * Checks a value against one definition of the agent API's schema (lib/agent-protocol.schema.json) and says where it
 * breaks it: the places, not raw ajv output, each with what the schema expects there in words (its `description`).
 * For the side that cannot trust the other (the agent reading a hub's job): callers phrase the message themselves.
 * ajv is loaded by {@link loadProtocolChecks} (the agent awaits it with its first job: an idle agent never holds it)
 * with a dynamic `import()`, which a bundle — the agent executable — carries, where a run-time `require` it would not;
 * the validators are compiled on first use.
 *
 * @example
 * const broken = protocolProblems('JobSpec', offered);
 * broken.map((p) => `${p.path.join('.')}: expected ${expectedAt('JobSpec', p.path)}`);
 */
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { AGENT_PROTOCOL_SCHEMA_ID, agentProtocolSchema, type ProtocolDefinition } from './agent-protocol-schema.js';

/** One place where a value breaks the schema: JSON path segments (array indexes as digits), a missing field included. */
export interface ProtocolProblem {
  path: string[];
  keyword: string;
}

let ajv: Ajv | undefined;
let AjvClass: typeof Ajv | undefined;

/**
 * Loads the validator library; {@link protocolProblems} needs it done once. Cheap after the first call.
 *
 * @example
 * await loadProtocolChecks();
 * const checked = checkJobSpec(offered);
 */
export async function loadProtocolChecks(): Promise<void> {
  AjvClass ??= (await import('ajv')).Ajv;
}
let definitions: Record<string, Record<string, unknown>> | undefined;
const validators = new Map<ProtocolDefinition, ValidateFunction>();

/**
 * Every place where `value` breaks the definition `name` (none: it conforms). A missing field is reported at its own
 * path, so a caller can tell which field it concerns.
 *
 * @example
 * protocolProblems('GitAuth', { username: 'x' }); // [{ path: ['password'], keyword: 'required' }, { path: ['expiresAt'], … }]
 */
export function protocolProblems(name: ProtocolDefinition, value: unknown): ProtocolProblem[] {
  const validate = validatorFor(name);
  if (validate(value)) return [];
  return (validate.errors ?? []).filter((err) => err.keyword !== 'if').map(toProblem);
}

/**
 * What the schema expects at `path` inside definition `name`, in the words of its `description` (undefined where it
 * has none).
 *
 * @example
 * expectedAt('JobSpec', ['sha']); // 'a full 40-character commit SHA in lowercase hex'
 */
export function expectedAt(name: ProtocolDefinition, path: string[]): string | undefined {
  definitions ??= agentProtocolSchema().definitions;
  let at: Record<string, unknown> | undefined = definitions[name];
  for (const segment of path) {
    at = resolve(at, definitions);
    const next: unknown = /^\d+$/.test(segment) ? at?.items : (at?.properties as Record<string, unknown> | undefined)?.[segment];
    at = typeof next === 'object' && next !== null ? (next as Record<string, unknown>) : undefined;
  }
  const described = at?.description ?? resolve(at, definitions)?.description;
  return typeof described === 'string' ? described : undefined;
}

function validatorFor(name: ProtocolDefinition): ValidateFunction {
  let validate = validators.get(name);
  if (validate) return validate;
  if (!ajv) {
    if (!AjvClass) throw new Error('protocolProblems() before loadProtocolChecks(): await loadProtocolChecks() once first');
    ajv = new AjvClass({ allErrors: true, strict: false }).addKeyword('tsType').addSchema(agentProtocolSchema());
  }
  validate = ajv.getSchema(`${AGENT_PROTOCOL_SCHEMA_ID}#/definitions/${name}`);
  if (!validate) throw new Error(`lib/agent-protocol.schema.json has no definition ${name}`);
  validators.set(name, validate);
  return validate;
}

function toProblem(err: ErrorObject): ProtocolProblem {
  const path = err.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const missing = err.keyword === 'required' ? (err.params as { missingProperty?: string }).missingProperty : undefined;
  return { path: missing === undefined ? path : [...path, missing], keyword: err.keyword };
}

/** Follows a `$ref` to one of the schema's own definitions. */
function resolve(at: Record<string, unknown> | undefined, definitions: Record<string, Record<string, unknown>>): Record<string, unknown> | undefined {
  const ref = at?.$ref;
  return typeof ref === 'string' && ref.startsWith('#/definitions/') ? definitions[ref.slice('#/definitions/'.length)] : at;
}
