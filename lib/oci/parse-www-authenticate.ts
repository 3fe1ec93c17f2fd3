/**
 * Reads a `WWW-Authenticate` challenge as registries send it (RFC 7235): a scheme, then `name=value` pairs whose
 * values are tokens or quoted strings, e.g. `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="…"`.
 * Only the first challenge is read; registries send one. Anything unreadable gives `undefined`, never a throw: the
 * caller then says the registry asked for a login it cannot follow.
 *
 * @example
 * parseWwwAuthenticate('Bearer realm="https://auth.example/token",service="reg"');
 * // → { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'reg' } }
 */

export interface Challenge {
  /** Lower case: `bearer`, `basic`. */
  scheme: string;
  /** Parameter names in lower case. */
  params: Record<string, string>;
}

const MAX_HEADER = 4096;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

export function parseWwwAuthenticate(header: string | undefined): Challenge | undefined {
  if (header === undefined || header.length > MAX_HEADER) return undefined;
  const scheme = TOKEN.exec(header.trimStart());
  if (!scheme) return undefined;
  let rest = header.trimStart().slice(scheme[0].length);
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (;;) {
    rest = rest.replace(/^[\s,]+/, '');
    if (rest === '') break;
    const name = TOKEN.exec(rest);
    if (!name) return undefined;
    rest = rest.slice(name[0].length).trimStart();
    if (!rest.startsWith('=')) {
      // Another challenge starts here (`Bearer …, Basic realm=…`): the first one is complete.
      break;
    }
    rest = rest.slice(1).trimStart();
    let value: string;
    if (rest.startsWith('"')) {
      const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
      if (!quoted) return undefined;
      value = quoted[1]!.replace(/\\(.)/g, '$1');
      rest = rest.slice(quoted[0].length);
    } else {
      const token = TOKEN.exec(rest);
      if (!token) return undefined;
      value = token[0];
      rest = rest.slice(token[0].length);
    }
    // A realm or scope is put into a URL: a control character in it can only be an attack.
    if (hasControlCharacter(value)) return undefined;
    params[name[0].toLowerCase()] = value;
  }
  return { scheme: scheme[0].toLowerCase(), params };
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
