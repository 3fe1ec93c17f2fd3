/**
 * Validates one user-written YAML file against its JSON Schema and explains every problem to a person: file, line,
 * column, a sentence, and a hint. Pure: text in, `{ value, errors, warnings }` out; raw ajv output never escapes.
 * Schema defaults (e.g. `strategy: all-at-once`) are filled into `value`.
 *
 * @example
 * const { value, errors } = validateYamlFile<GroupsFile>(text, 'groups', 'groups.yml');
 * if (errors.length) console.error(formatIssues(errors));
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';
import { LineCounter, parseDocument } from 'yaml';
import agentSchema from './agent.schema.json' with { type: 'json' };
import groupsSchema from './groups.schema.json' with { type: 'json' };
import instructionsSchema from './instructions.schema.json' with { type: 'json' };
import repositorySchema from './repository.schema.json' with { type: 'json' };
import strategiesSchema from './strategies.schema.json' with { type: 'json' };
import { checkLabelSelectors } from './check-label-selectors.js';
import type { GroupsFile } from './types.generated.js';
import { allowedKeys, describeSchemaError } from './describe-schema-error.js';
import { closestWord } from './closest-word.js';
import { dottedPath, linePosition, nodeAt } from './yaml-position.js';

export { positionOf } from './yaml-position.js';

export const SCHEMAS = {
  groups: groupsSchema,
  strategies: strategiesSchema,
  repository: repositorySchema,
  instructions: instructionsSchema,
  agent: agentSchema,
} as const;
export type SchemaName = keyof typeof SCHEMAS;

/** One problem in a user-written file. */
export interface ConfigIssue {
  file: string;
  /** Dotted path of the offending value, e.g. `environments.staging.strategy` (empty for the whole file). */
  path: string;
  line?: number;
  column?: number;
  message: string;
  hint?: string;
}

export interface ValidationResult<T> {
  /** Present only when there are no errors. */
  value?: T;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
  /**
   * What the YAML said, unchecked, when it parsed but broke the schema: enough for a caller to report the problems a
   * schema cannot see (references to other files) in the same pass, never to use.
   */
  unchecked?: unknown;
}

/** Files larger than this are refused unread. */
export const MAX_CONFIG_FILE_BYTES = 256 * 1024;

const addFormats = formatsPlugin as unknown as (ajv: Ajv) => void;
// `verbose` puts the offending value and schema fragment on each error: the messages need both.
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
addFormats(ajv);
const validators = new Map<SchemaName, ValidateFunction>();

function validatorFor(name: SchemaName): ValidateFunction {
  let validate = validators.get(name);
  if (!validate) {
    validate = ajv.compile(SCHEMAS[name]);
    validators.set(name, validate);
  }
  return validate;
}

/**
 * Parses `text` as YAML and validates it against the schema `schemaName`; `file` only labels the issues.
 *
 * @example
 * validateYamlFile('groups:\n  web: {}\n', 'groups', 'groups.yml').errors[0].message;
 * // '`groups.web` is missing the required key `selector`'
 */
export function validateYamlFile<T>(text: string, schemaName: SchemaName, file: string): ValidationResult<T> {
  const size = Buffer.byteLength(text);
  if (size > MAX_CONFIG_FILE_BYTES) {
    const message = `file is ${Math.ceil(size / 1024)} KiB, larger than the ${MAX_CONFIG_FILE_BYTES / 1024} KiB a config file may be`;
    return { errors: [{ file, path: '', message, hint: 'split it or remove what is not needed' }], warnings: [] };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined) => linePosition(lineCounter, offset);
  const errors: ConfigIssue[] = doc.errors.map((e) =>
    e.code === 'DUPLICATE_KEY'
      ? { file, path: '', ...at(e.pos[0]), message: `the key \`${keyAt(text, e.pos[0])}\` appears twice in the same mapping`, hint: 'keep one of them: YAML keys must be unique' }
      : { file, path: '', ...at(e.pos[0]), message: `YAML syntax error: ${e.message.split('\n')[0]}`, hint: 'check indentation, quotes and colons on this line' },
  );
  const warnings: ConfigIssue[] = doc.warnings.map((w) => ({ file, path: '', ...at(w.pos[0]), message: w.message.split('\n')[0] ?? '' }));
  if (errors.length) return { errors, warnings };

  // An empty file is an empty mapping, so the schema can say which keys it needs.
  const data: unknown = doc.toJS() ?? {};
  const validate = validatorFor(schemaName);
  if (validate(data)) {
    if (schemaName === 'groups') errors.push(...checkLabelSelectors(data as GroupsFile, text, file));
    return errors.length ? { errors, warnings } : { value: data as T, errors, warnings };
  }
  const all = keepUseful(validate.errors ?? []);
  for (const err of all) {
    if (err.keyword === 'required' && isExplainedByTypo(err, all)) continue;
    const segments = pointerSegments(err.instancePath);
    const key = err.keyword === 'additionalProperties' ? String(err.params.additionalProperty) : err.propertyName;
    const node = nodeAt(doc.contents, segments, key);
    errors.push({ file, path: dottedPath(segments), ...at(node?.range?.[0]), ...describeSchemaError(err, segments) });
  }
  return { errors, warnings, unchecked: data };
}

/** A missing required key that an unknown key at the same place is a typo of: one error (the typo) says it all. */
function isExplainedByTypo(required: ErrorObject, all: ErrorObject[]): boolean {
  const missing = String(required.params.missingProperty);
  return all.some(
    (e) =>
      e.keyword === 'additionalProperties' &&
      e.instancePath === required.instancePath &&
      closestWord(String(e.params.additionalProperty), allowedKeys(e)) === missing,
  );
}

/**
 * ajv reports some problems more than once: a bad property name both as the name's own error and as
 * `propertyNames`; a `oneOf` value once per branch and once for the whole. Keep the one that explains best.
 */
function keepUseful(errors: ErrorObject[]): ErrorObject[] {
  const branches = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
  const kept = errors.filter(
    (e) =>
      e.keyword !== 'propertyNames' &&
      e.keyword !== 'if' &&
      !branches.some((prefix) => e.schemaPath.startsWith(prefix)),
  );
  const seen = new Set<string>();
  return kept.filter((e) => {
    const id = [e.instancePath, e.keyword, e.propertyName ?? '', JSON.stringify(e.params)].join('\0');
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** The key written at `offset`, up to its colon (yaml marks only the key's first character). */
function keyAt(text: string, offset: number): string {
  return (/^[^:\n]*/.exec(text.slice(offset))?.[0] ?? '').trim().replace(/^(["'])(.*)\1$/, '$2');
}

function pointerSegments(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}
