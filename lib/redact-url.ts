/**
 * Credentials in URLs (`https://user:TOKEN@git.example.com/…`) must never reach a page, an API answer, a log line or
 * a message: one function takes them out of any text, wherever a URL is shown — a configured URL, a git error that
 * quotes it, a line an agent sends.
 *
 * @example
 * withoutCredentials('cannot fetch https://deploy:ghp_x@git.example.com/acme/.bitenvoy.git');
 * // 'cannot fetch https://***@git.example.com/acme/.bitenvoy.git'
 */

/**
 * `scheme://userinfo@`: whatever stands between `//` and `@` in the authority (no `/`, `?`, `#`, `@`, white space,
 * `"`, `<` or `>`; a `'` may be in a password). No word boundary before the scheme: `x_https://…` and `1https://…`
 * are caught too.
 */
const USERINFO = /([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@\s"<>]+@/g;

export function withoutCredentials(text: string): string {
  // An ssh user name alone (`ssh://git@host/…`) is no secret; anything else before `@` may be a token.
  return text.replace(USERINFO, (match, scheme: string) => (/^ssh:/i.test(scheme) && !match.slice(scheme.length).includes(':') ? match : `${scheme}***@`));
}

/**
 * A JSON-able value with credentials taken out of every URL in it, for answers people read (the admin API's views).
 *
 * @example
 * withoutCredentialsIn({ gitUrl: 'https://u:t@git.example/a/b.git' }); // { gitUrl: 'https://***@git.example/a/b.git' }
 */
export function withoutCredentialsIn<T>(value: T): T {
  const text = JSON.stringify(value);
  const clean = withoutCredentials(text);
  return clean === text ? value : (JSON.parse(clean) as T);
}
