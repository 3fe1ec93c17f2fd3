/**
 * Validates one user-written YAML file against its JSON Schema and explains every problem to a person: file, line,
 * column, a sentence, and a hint. Pure: text in, `{ value, errors, warnings }` out; raw ajv output never escapes.
 *
 * @example
 * const { value, errors } = validateYamlFile<GroupsFile>(text, 'groups', 'groups.yml');
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import agentSchema from './agent.schema.json' with { type: 'json' };
import groupsSchema from './groups.schema.json' with { type: 'json' };
import instructionsSchema from './instructions.schema.json' with { type: 'json' };
import repositorySchema from './repository.schema.json' with { type: 'json' };
import strategiesSchema from './strategies.schema.json' with { type: 'json' };

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
  value?: T;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/** Files larger than this are refused unread. */
export const MAX_CONFIG_FILE_BYTES = 256 * 1024;

const addFormats = formatsPlugin as unknown as (ajv: Ajv) => void;
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

export function validateYamlFile<T>(text: string, schemaName: SchemaName, file: string): ValidationResult<T> {
  if (Buffer.byteLength(text) > MAX_CONFIG_FILE_BYTES) {
    return {
      errors: [{ file, path: '', message: `file is larger than ${MAX_CONFIG_FILE_BYTES / 1024} KiB`, hint: 'split it or remove what is not needed' }],
      warnings: [],
    };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const errors: ConfigIssue[] = [];
  const at = (offset: number | undefined) => {
    if (offset === undefined) return {};
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  for (const e of doc.errors) {
    const duplicate = e.code === 'DUPLICATE_KEY';
    errors.push({
      file,
      path: '',
      ...at(e.pos[0]),
      message: duplicate ? 'a key appears twice in the same mapping' : `YAML syntax error: ${e.message.split('\n')[0]}`,
      hint: duplicate ? 'keep one of them: YAML keys must be unique' : 'check indentation, quotes and colons on this line',
    });
  }
  const warnings: ConfigIssue[] = doc.warnings.map((w) => ({ file, path: '', ...at(w.pos[0]), message: w.message.split('\n')[0] ?? '' }));
  if (errors.length) return { errors, warnings };

  const data: unknown = doc.toJS() ?? {};
  const validate = validatorFor(schemaName);
  if (validate(data)) return { value: data as T, errors, warnings };
  const all = dedupe(validate.errors ?? []);
  for (const err of all) {
    const segments = pointerSegments(err.instancePath);
    if (err.keyword === 'required' && isExplainedByTypo(err, all)) continue;
    const node = nodeAt(doc.contents, segments, err.keyword === 'additionalProperties' ? String(err.params.additionalProperty) : undefined);
    errors.push({ file, path: dotted(segments), ...at(node?.range?.[0]), ...describe(err, segments) });
  }
  return { errors, warnings };
}

/** A missing required key that an unknown key at the same place is a typo of: one error (the typo) says it all. */
function isExplainedByTypo(required: ErrorObject, all: ErrorObject[]): boolean {
  const missing = String(required.params.missingProperty);
  return all.some(
    (e) =>
      e.keyword === 'additionalProperties' &&
      e.instancePath === required.instancePath &&
      closest(String(e.params.additionalProperty), allowedKeys(e)) === missing,
  );
}

/** `oneOf`/`anyOf` produce an error per branch plus one for the whole; keep the most useful. */
function dedupe(errors: ErrorObject[]): ErrorObject[] {
  const byPath = new Map<string, ErrorObject[]>();
  // A bad property name reports twice (the inner pattern, then propertyNames): keep the propertyNames one.
  for (const e of errors.filter((x) => x.keyword === 'propertyNames' || x.propertyName === undefined)) {
    byPath.set(e.instancePath, [...(byPath.get(e.instancePath) ?? []), e]);
  }
  const out: ErrorObject[] = [];
  for (const group of byPath.values()) {
    const oneOf = group.find((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf');
    if (oneOf) out.push(oneOf);
    else out.push(...group.filter((e, i) => group.findIndex((o) => o.message === e.message && o.keyword === e.keyword) === i));
  }
  return out;
}

/** `steps.0.timeout` → `steps[0].timeout`: how people write paths into YAML. */
function dotted(segments: string[]): string {
  return segments.reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function pointerSegments(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function nodeAt(root: unknown, segments: string[], childKey?: string): Node | undefined {
  let node = root as Node | undefined;
  for (const seg of [...segments, ...(childKey === undefined ? [] : [childKey])]) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) return node;
      node = (seg === childKey ? pair.key : pair.value) as Node | undefined;
    } else if (isSeq(node)) {
      node = node.items[Number(seg)] as Node | undefined;
    } else {
      return node;
    }
  }
  return node;
}

const show = (v: unknown) => (typeof v === 'string' ? `\`${v}\`` : `\`${JSON.stringify(v)}\``);

function describe(err: ErrorObject, segments: string[]): { message: string; hint?: string } {
  const where = segments.length ? `\`${dotted(segments)}\`` : 'the file';
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const allowed = allowedKeys(err);
      const near = closest(key, allowed);
      return {
        message: `unknown key \`${key}\` in ${where}${near ? `; did you mean \`${near}\`?` : ''}`,
        hint: allowed.length ? `allowed keys: ${allowed.join(', ')}` : 'remove it',
      };
    }
    case 'required':
      return { message: `${where} is missing the required key \`${String(p.missingProperty)}\``, hint: 'add it' };
    case 'enum':
      return {
        message: `${where}: expected one of ${(p.allowedValues as unknown[]).map(show).join(', ')}, got ${show(valueFrom(err))}`,
      };
    case 'const':
      return { message: `${where}: expected ${show(p.allowedValue)}, got ${show(valueFrom(err))}` };
    case 'type':
      return { message: `${where}: expected ${String(p.type)}, got ${show(valueFrom(err))}` };
    case 'pattern':
      return { message: `${where}: ${show(valueFrom(err))} is not allowed here`, hint: patternHint(err.parentSchema) };
    case 'propertyNames': {
      const name = String(p.propertyName);
      return { message: `${where}: the name \`${name}\` is not allowed`, hint: patternHint(err.parentSchema) };
    }
    case 'oneOf':
    case 'anyOf':
      return { message: `${where}: ${show(valueFrom(err))} is not valid here`, hint: patternHint(err.parentSchema) };
    case 'minItems':
    case 'minProperties':
      return { message: `${where} must not be empty`, hint: patternHint(err.parentSchema) };
    case 'format':
      return { message: `${where}: expected a ${String(p.format)}, got ${show(valueFrom(err))}` };
    default:
      return { message: `${where}: ${err.message ?? 'is not valid'}`, hint: patternHint(err.parentSchema) };
  }
}

function valueFrom(err: ErrorObject): unknown {
  return (err as ErrorObject & { data?: unknown }).data;
}

function patternHint(parentSchema: unknown): string | undefined {
  const description = (parentSchema as { description?: string } | undefined)?.description;
  return description ? `expected: ${description}` : undefined;
}

/** The keys `properties` allows where an `additionalProperties` error happened (ajv's `verbose` gives the schema). */
function allowedKeys(err: ErrorObject): string[] {
  const props = (err.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props) : [];
}

/** The allowed key nearest to a typo, by edit distance (at most 2, or a third of the word). */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The 1-based line and column of the value at `segments` in a YAML text (for checks made after the schema's). */
export function positionOf(text: string, segments: string[]): { line?: number; column?: number } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const offset = nodeAt(doc.contents, segments)?.range?.[0];
  if (offset === undefined) return {};
  const pos = lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
}
