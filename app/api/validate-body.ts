import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { BitEnvoyError } from '../../lib/errors.js';

const ajv = new Ajv({ allErrors: false, strict: false, verbose: true });
const compiled = new WeakMap<object, ValidateFunction>();

/**
 * Checks a parsed body against its schema; the first problem becomes a 400 naming the field, what was expected and
 * what came, e.g. "events[3].seq: expected an integer ≥ 1, got -2".
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
  throw new BitEnvoyError('BE_BAD_REQUEST', explain(validate.errors?.[0]));
}

function explain(err: ErrorObject | undefined): string {
  if (!err) return 'the body is not valid';
  const field = err.instancePath
    .split('/')
    .slice(1)
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
  const where = field || 'body';
  const got = preview((err as ErrorObject & { data?: unknown }).data);
  const expected = (err.parentSchema as { description?: string } | undefined)?.description;
  switch (err.keyword) {
    case 'required':
      return `${where}: missing the required field \`${String(err.params.missingProperty)}\``;
    case 'additionalProperties':
      return `${where}: unknown field \`${String(err.params.additionalProperty)}\``;
    case 'enum':
      return `${where}: expected one of ${(err.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${got}`;
    case 'maxItems':
      return `${where}: at most ${String(err.params.limit)} items per request, got more; send them in several requests`;
    case 'maxLength':
      return `${where}: at most ${String(err.params.limit)} characters`;
    case 'maxProperties':
      return `${where}: at most ${String(err.params.limit)} entries`;
    default:
      return `${where}: expected ${expected ?? expectation(err)}, got ${got}`;
  }
}

/**
 * What came, for the message: at most 100 characters. Whatever the value (a 64 KiB string, a wide object), the
 * message stays short, and a value that cannot be written out still gets a message rather than a 500.
 */
function preview(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value.slice(0, 101)) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Array.isArray(value) ? 'an array' : typeof value;
  }
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

const ARTICLE: Record<string, string> = { integer: 'an integer', number: 'a number', string: 'a string', array: 'an array', object: 'an object', boolean: 'true or false', null: 'null' };

/** What a schema keyword wanted, in words (ajv's own messages read "must be …"). */
function expectation(err: ErrorObject): string {
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'type':
      return String(p.type)
        .split(',')
        .map((t) => ARTICLE[t] ?? t)
        .join(' or ');
    case 'minimum':
      return `a number ≥ ${String(p.limit)}`;
    case 'maximum':
      return `a number ≤ ${String(p.limit)}`;
    case 'minLength':
      return `at least ${String(p.limit)} characters`;
    case 'const':
      return JSON.stringify(p.allowedValue);
    case 'pattern':
      return `text matching ${String(p.pattern)}`;
    default:
      return err.message?.replace(/^must /, 'to ') ?? 'something else';
  }
}
