/**
 * The one translator from ajv errors to sentences a person can act on — for the YAML files people write and for the
 * JSON bodies the hub's API takes: what is wrong, where, what was expected (in words, not regular expressions), what
 * was found, and a hint. ajv must run with `verbose: true` so each error carries the offending value and the schema
 * fragment it broke. The two dialects differ only in their nouns and in how a place and a value are written.
 *
 * @example
 * describeSchemaError(err, ['environments', 'staging', 'strategy']);
 * // { message: '`environments.staging.strategy`: expected a name made of lowercase letters, digits and dashes, got `Fast Lane`' }
 * describeSchemaError(err, ['events', '1', 'seq'], JSON_BODY);
 * // { message: 'events[1].seq: expected an integer ≥ 1, got -2' }
 */
import type { ErrorObject } from 'ajv';
import { closestWord } from './closest-word.js';
import { dottedPath } from './yaml-position.js';

/** The schemas' patterns, said in words. A pattern missing here is shown as itself (a test keeps this complete). */
export const PATTERN_WORDS: Record<string, string> = {
  '^[a-z0-9][a-z0-9-]{0,62}$': 'a name made of lowercase letters, digits and dashes',
  '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$': 'a name made of letters, digits, `.`, `_` and `-`',
  '^[A-Za-z0-9][A-Za-z0-9._/-]{0,252}$': 'a label key made of letters, digits, `.`, `_`, `-` and `/`',
  '^([A-Za-z0-9][A-Za-z0-9._/-]{0,252}|cloud\\.tag\\.[^\\u0000-\\u001f\\u007f]{1,512})$': 'a label key made of letters, digits, `.`, `_`, `-` and `/`, or `cloud.tag.` and a raw tag key',
  '^cloud\\.': 'a `cloud.` key',
  '^[^\\u0000-\\u001f\\u007f]{0,512}$': 'up to 512 characters without control characters',
  '^[A-Za-z0-9._-]{0,63}$': 'a label value made of letters, digits, `.`, `_` and `-`',
  '^[A-Za-z0-9_.-]+/([A-Za-z0-9_.-]+|\\*)$': '`owner/name` or `owner/*`',
  '^[A-Za-z_][A-Za-z0-9_]{0,127}$': 'an environment variable name (letters, digits and `_`, not starting with a digit)',
  '^[0-9]{1,6}(ms|s|m|h)$': 'a duration like `90s`, `10m` or `1h`',
  '^(https?://|git://|ssh://|file://|/)': 'an `http(s)://`, `git://`, `ssh://` or `file://` URL, or an absolute path',
  '^[^/\\\\][^\\\\]*$': 'a relative path with `/` separators',
  '^[^/]': 'a path relative to the release directory',
  '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$': 'a GitHub login (letters, digits and `-`)',
  '^(100|[1-9][0-9]?)%$': 'a percentage from `1%` to `100%`',
  '^https?://': 'an `http://` or `https://` URL',
  '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$': 'a name of up to 64 letters, digits, `.`, `_` and `-`, starting with a letter or digit',
  '^[A-Za-z0-9_.-]{1,100}\\.ya?ml$': 'a workflow file name like `build.yml`',
  '^[0-9a-f]{64}$': 'a SHA-256 digest: 64 lowercase hex digits',
  '^((github-actions|github-releases)(@https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)?|[A-Za-z0-9.-]+(:[0-9]{1,5})?(/([a-z0-9._-]+|\\*))+|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^?#%@\\s\\\\]*)?)$': 'an artifact source: `github-actions` or `github-releases` (optionally `@https://HOST` for GitHub Enterprise Server), an OCI registry path like `ghcr.io/acme/*`, or a URL prefix like `https://cdn.acme.com/builds/`',
  '^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$': 'a registry `host[:port]` like `127.0.0.1:5000` (no scheme, no path)',
  '^(\\.|[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*)$': 'a path inside the release like `public` or `bin/app` (letters, digits, `.`, `_`, `-` and `/`; no `..`), or `.` for the release itself',
  '^(100|[1-9]?[0-9])%$': 'a percentage from `0%` to `100%`',
  '^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$': 'a team as `org/team-slug`',
  '^((https?://|git://|ssh://([A-Za-z0-9._-]+@)?)[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^?#%@\\s\\\\]*)?|file:///[^?#%@\\s\\\\]*|/[^?#%@\\s\\\\]*)$':
    'a git base URL like `https://github.com/` or `ssh://git@git.example.com/scm/` (no password, query, fragment or `%`), or an absolute path',
  '^(\\*|(?!refs/)[A-Za-z0-9_][A-Za-z0-9._/-]*\\*?)$': 'a branch name like `main`, or a prefix ending in `*` like `release/*` (nothing under `refs/`)',
  '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$': '`owner/name`',
  '^\\.github/workflows/[A-Za-z0-9_.-]+\\.ya?ml$': 'a workflow file path like `.github/workflows/build.yml`',
  '^\\.?[A-Za-z0-9_-][A-Za-z0-9_.-]*(/\\.?[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$': 'a relative path inside the repository like `bitenvoy.yml` or `deploy/bitenvoy.yml` (letters, digits, `.`, `_`, `-` and `/`; no `..`)',
  '^[a-z_][a-z0-9_.-]{0,31}(:[a-z_][a-z0-9_.-]{0,31})?$': 'a user name like `deploy`, or `USER:GROUP` like `deploy:www-data` (lowercase letters, digits, `_`, `.` and `-`)',
  '^[0-9]{1,15}[KMGT]?$': 'a size like `512M` or `2G` (`K`, `M`, `G`, `T` are powers of 1024), or a byte count',
  '^([0-9]{1,5}%|[0-9]{1,3}(\\.[0-9]{1,2})?( ?cores?)?)$': 'a CPU share like `50%` (of one core) or `1.5` / `2 cores`',
};

interface SchemaFragment {
  description?: string;
  type?: string | string[];
  pattern?: string;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  format?: string;
  oneOf?: SchemaFragment[];
  anyOf?: SchemaFragment[];
  properties?: Record<string, SchemaFragment>;
}

/** How one kind of document names its places, its keys, its types and its values. */
export interface SchemaDialect {
  /** The place of the error; `segments` empty means the whole document. */
  where(segments: string[]): string;
  /** What a member of an object is called: a `key` of a YAML mapping, a `field` of a JSON body. */
  key: string;
  types: Record<string, string>;
  /** A value as its writer would recognise it. */
  value(value: unknown): string;
  /** The schemas of this kind say what they expect in their `description` (else it is a hint shown apart). */
  describesExpectation?: boolean;
}

/** The config files and instruction files people write in YAML. */
export const YAML_FILE: SchemaDialect = {
  where: (segments) => (segments.length ? `\`${dottedPath(segments)}\`` : 'the file'),
  key: 'key',
  types: { object: 'a mapping of keys to values', array: 'a list', string: 'a string', integer: 'a whole number', number: 'a number', boolean: '`true` or `false`', null: 'nothing' },
  value: showValue,
};

/** JSON request bodies of the hub's APIs: `events[3].seq`, JSON values. */
export const JSON_BODY: SchemaDialect = {
  where: (segments) => segments.reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '') || 'the body',
  key: 'field',
  types: { object: 'an object', array: 'an array', string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false', null: 'null' },
  value: previewJson,
  describesExpectation: true,
};

/** A value as a person would recognise it in their file. */
export function showValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `\`${text.length > 60 ? `${text.slice(0, 57)}...` : text}\``;
}

/**
 * A JSON value for a message: at most 100 characters. Whatever the value (a 64 KiB string, a 5,000-deep object), the
 * message stays short, and a value that cannot be written out still gets a message rather than a 500.
 */
function previewJson(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value.slice(0, 101)) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Array.isArray(value) ? 'an array' : typeof value;
  }
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

/** What a schema fragment accepts, in words. */
function expectation(schema: SchemaFragment | undefined, dialect: SchemaDialect): string {
  if (!schema) return 'something else';
  if (dialect.describesExpectation && schema.description) return schema.description;
  const branches = schema.oneOf ?? schema.anyOf;
  if (branches) return branches.map((b) => expectation(b, dialect)).join(' or ');
  if (schema.enum) return `one of ${schema.enum.map(dialect.value).join(', ')}`;
  if ('const' in schema) return dialect.value(schema.const);
  if (schema.pattern) return PATTERN_WORDS[schema.pattern] ?? `a string matching \`${schema.pattern}\``;
  if (schema.format === 'uri') return 'an absolute URL like `https://staging.example.com`';
  const types = (Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : []).map((t) => dialect.types[t] ?? t);
  if (!types.length) return 'something else';
  const type = types.join(' or ');
  if (schema.minimum !== undefined && schema.maximum !== undefined) return `${type} from ${schema.minimum} to ${schema.maximum}`;
  if (schema.minimum !== undefined) return `${type} ≥ ${schema.minimum}`;
  if (schema.maximum !== undefined) return `${type} ≤ ${schema.maximum}`;
  return type;
}

/** The keys `properties` allows where an `additionalProperties` error happened. */
export function allowedKeys(err: ErrorObject): string[] {
  return Object.keys((err.parentSchema as SchemaFragment | undefined)?.properties ?? {});
}

export function describeSchemaError(err: ErrorObject, segments: string[], dialect: SchemaDialect = YAML_FILE): { message: string; hint?: string } {
  const where = dialect.where(segments);
  const params = err.params as Record<string, unknown>;
  const parent = err.parentSchema as SchemaFragment | undefined;
  const got = dialect.value((err as { data?: unknown }).data);
  const described = parent?.description ? { hint: parent.description } : {};
  // Where the schema says in words what it expects, that is the clearest thing to say about any value it refused.
  if (dialect.describesExpectation && parent?.description && !['additionalProperties', 'required', 'maxItems'].includes(err.keyword)) {
    return { message: `${where}: expected ${parent.description}, got ${got}` };
  }
  switch (err.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = allowedKeys(err);
      const near = closestWord(key, allowed);
      return {
        message: `unknown ${dialect.key} \`${key}\` in ${where}${near ? `; did you mean \`${near}\`?` : ''}`,
        hint: allowed.length ? `allowed ${dialect.key}s: ${allowed.join(', ')}` : 'remove it',
      };
    }
    case 'required': {
      const key = String(params.missingProperty);
      const about = parent?.properties?.[key]?.description;
      return { message: `${where} is missing the required ${dialect.key} \`${key}\``, hint: `add \`${dialect === YAML_FILE ? `${key}:` : key}\`${about ? ` (${about})` : ''}` };
    }
    case 'pattern':
      if (err.propertyName !== undefined) {
        return { message: `${where}: expected ${expectation(parent ?? { pattern: String(params.pattern) }, dialect)}, got \`${err.propertyName}\`` };
      }
      return { message: `${where}: expected ${expectation(parent, dialect)}, got ${got}`, ...described };
    case 'enum':
      // The message already lists every allowed value.
      return { message: `${where}: expected ${expectation(parent, dialect)}, got ${got}` };
    case 'const':
    case 'oneOf':
    case 'anyOf':
    case 'type':
    case 'format':
      return { message: `${where}: expected ${expectation(err.keyword === 'type' ? { type: String(params.type).split(','), ...(parent?.minimum !== undefined ? { minimum: parent.minimum } : {}), ...(parent?.maximum !== undefined ? { maximum: parent.maximum } : {}) } : parent, dialect)}, got ${got}`, ...described };
    case 'minimum':
    case 'maximum':
      return { message: `${where}: expected ${expectation(parent, dialect)}, got ${got}` };
    case 'minItems':
    case 'minProperties':
    case 'minLength':
      return Number(params.limit) === 1
        ? { message: `${where} must not be empty`, ...described }
        : { message: `${where} is too short: at least ${String(params.limit)} needed`, ...described };
    case 'maxItems':
    case 'maxProperties':
    case 'maxLength':
      return { message: `${where} is too long: at most ${String(params.limit)} allowed`, ...described };
    default:
      return { message: `${where} is not valid here`, ...described };
  }
}
