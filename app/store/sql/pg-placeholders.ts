/**
 * The store's statements use `?` placeholders (SQLite's); PostgreSQL numbers them: `$1`, `$2`, … Each `?` outside a
 * quoted literal, a quoted name or a comment becomes the next number. (So a statement never uses PostgreSQL's `?`
 * JSON operators; `jsonb_exists()` says the same.)
 *
 * @example
 * toPgPlaceholders("SELECT key FROM kv WHERE key = ? AND value <> '?'"); // "SELECT key FROM kv WHERE key = $1 AND value <> '?'"
 */

/** Translated statements, by their text: the store's statements are a few hundred distinct texts. */
const translated = new Map<string, string>();
const CACHE_LIMIT = 2000;

export function toPgPlaceholders(sql: string): string {
  const known = translated.get(sql);
  if (known !== undefined) return known;
  const result = translate(sql);
  if (translated.size >= CACHE_LIMIT) translated.clear();
  translated.set(sql, result);
  return result;
}

function translate(sql: string): string {
  let out = '';
  let n = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const end = endOfQuoted(sql, i);
    if (end > i) {
      out += sql.slice(i, end);
      i = end;
    } else if (c === '?') {
      out += `$${++n}`;
      i += 1;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

/** Where the literal, quoted name, dollar-quoted string or comment starting at `i` ends; `i` when none starts there. */
function endOfQuoted(sql: string, i: number): number {
  const c = sql[i]!;
  if (c === "'") {
    // E'…' strings take backslash escapes; standard ones only double the quote.
    const escapes = /[eE]/.test(sql[i - 1] ?? '') && !/[\w$]/.test(sql[i - 2] ?? '');
    return closing(sql, i + 1, "'", escapes);
  }
  if (c === '"') return closing(sql, i + 1, '"', false);
  if (c === '-' && sql[i + 1] === '-') {
    const newline = sql.indexOf('\n', i);
    return newline < 0 ? sql.length : newline;
  }
  if (c === '/' && sql[i + 1] === '*') {
    const close = sql.indexOf('*/', i + 2);
    return close < 0 ? sql.length : close + 2;
  }
  if (c === '$' && !/[\w$]/.test(sql[i - 1] ?? '')) {
    const tag = /^\$([A-Za-z_]\w*)?\$/.exec(sql.slice(i));
    if (tag) {
      const close = sql.indexOf(tag[0], i + tag[0].length);
      return close < 0 ? sql.length : close + tag[0].length;
    }
  }
  return i;
}

/** The index after the quote that closes a literal opened before `from` (a doubled quote is part of it). */
function closing(sql: string, from: number, quote: string, backslashEscapes: boolean): number {
  let j = from;
  while (j < sql.length) {
    const c = sql[j]!;
    if (backslashEscapes && c === '\\') {
      j += 2;
      continue;
    }
    if (c === quote) {
      if (sql[j + 1] === quote) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j += 1;
  }
  return sql.length;
}

/**
 * The statement with each `?` (outside quoted text, as {@link toPgPlaceholders} finds them) replaced by its value as a
 * quoted literal, for PostgreSQL's simple protocol, which takes several statements in one message but no parameters.
 * A quoted literal has no type until its context gives one, as an untyped parameter sent as text: the statement means
 * the same. Undefined when a value cannot be written so (bytes; text holding NUL, which ends a simple query's text).
 *
 * @example
 * withLiterals('SELECT doc FROM jobs WHERE key = ? AND batch = ?', ["job:it's", 2]); // "… key = 'job:it''s' AND batch = '2'"
 */
export function withLiterals(sql: string, values: ReadonlyArray<string | number | bigint | null | Uint8Array>): string | undefined {
  const literals: string[] = [];
  for (const value of values) {
    if (value === null) literals.push('NULL');
    else if (typeof value === 'number' || typeof value === 'bigint') literals.push(`'${String(value)}'`);
    else if (typeof value === 'string' && !value.includes('\0')) literals.push(quoteLiteral(value));
    else return undefined;
  }
  const parts = partsOf(sql);
  if (parts.length !== literals.length + 1) return undefined;
  let out = parts[0]!;
  for (let n = 0; n < literals.length; n++) out += literals[n]! + parts[n + 1]!;
  return out;
}

/** The statements' texts split at their placeholders, by text (a few hundred distinct ones, as for toPgPlaceholders). */
const split = new Map<string, string[]>();

function partsOf(sql: string): string[] {
  const known = split.get(sql);
  if (known) return known;
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < sql.length; ) {
    const end = endOfQuoted(sql, i);
    if (end > i) i = end;
    else if (sql[i] === '?') {
      parts.push(sql.slice(from, i));
      from = ++i;
    } else i += 1;
  }
  parts.push(sql.slice(from));
  if (split.size >= CACHE_LIMIT) split.clear();
  split.set(sql, parts);
  return parts;
}

/**
 * `'text'` with its quotes doubled; with backslashes, an `E'…'` string with them doubled too, which reads the same
 * whatever `standard_conforming_strings` says.
 */
function quoteLiteral(value: string): string {
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}
