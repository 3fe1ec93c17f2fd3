/**
 * `allow.gitBaseUrls`: where a job's code may come from. The hub names the repository and also says where to fetch
 * it; without this rule a compromised hub could name an allowed repository and point the URL at a copy of its own,
 * whose instruction file would then run with this server's secrets. With it, the URL must be exactly
 * `<base><owner>/<name>` or `<base><owner>/<name>.git` for the job's own repository.
 *
 * @example
 * gitUrlRefusal(['https://github.com/'], 'acme/shop', 'https://GitHub.com/acme/shop.git'); // undefined: accepted
 * gitUrlRefusal(['https://github.com/'], 'acme/shop', 'https://evil.example/acme/shop.git'); // 'this agent's allowlist does not accept…'
 */
import { clipped, listed } from './listed.js';

/**
 * Why `allow.gitBaseUrls` refuses `url` for `repository`, or undefined when it accepts it (or is not set). The
 * reason names the rule and how to allow the URL, or says why it never will be.
 */
export function gitUrlRefusal(bases: string[] | undefined, repository: string, url: string): string | undefined {
  if (!bases) return undefined;
  const flaw = urlFlaw(url, bases);
  const wanted = normalizeUrl(url);
  if (!flaw && bases.some((base) => [repository, `${repository}.git`].some((path) => normalizeUrl(joinBase(base, path)) === wanted))) return undefined;
  const rule = `allow.gitBaseUrls: ${listed(bases)}`;
  const head = `this agent's allowlist does not accept git URL ${clipped(url)} for ${repository} (${flaw ? `${flaw}; ` : ''}${rule})`;
  const base = flaw ? undefined : baseOf(url, repository);
  if (base !== undefined) {
    return `${head}; the server's owner can add \`${clipped(base)}\` to allow.gitBaseUrls in agent.yml and restart the agent`;
  }
  return (
    `${head}; ${flaw ? 'such a URL is never accepted' : `the URL does not end in ${repository} or ${repository}.git, so it is not that repository`}: ` +
    `if the hub's configuration really says so, fix the repository's \`git\` URL there; a hub that sends it unasked may have been tampered with`
  );
}

/** What makes a URL unacceptable whatever the bases are (checked first: equality alone would also refuse it). */
function urlFlaw(url: string, bases: string[]): string | undefined {
  if (/[\s\\\p{Cc}]/u.test(url)) return 'it contains spaces, control characters or backslashes';
  if (url.includes('?')) return 'it has a query string';
  if (url.includes('#')) return 'it has a fragment';
  if (url.includes('%')) return 'it has `%` escapes, which could hide a `/` or `..`';
  if (url.split('/').some((segment) => segment === '..' || segment === '.')) return 'it has a `.` or `..` path segment';
  const user = userOf(url);
  // A user name is fine only when a base has the very same one (`ssh://git@host/`); a password never is.
  if (user !== undefined && (user.includes(':') || !bases.some((base) => userOf(base) === user))) {
    return 'it carries a user name or password; credentials come from the hub as a header (GitHub mode) or from this server\'s own git credentials (a credential helper or ~/.netrc), never in the URL';
  }
  return undefined;
}

/** `base` + `path` with exactly one `/` between them (`https://github.com` and `https://github.com/` are the same). */
function joinBase(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path}`;
}

/** Scheme and host in lowercase, no trailing `/`: the forms that name the same repository compare equal. */
function normalizeUrl(url: string): string {
  const parts = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/]*)(.*)$/.exec(url);
  if (!parts) return url.replace(/\/+$/, '');
  const [, scheme = '', authority = '', path = ''] = parts;
  const at = authority.lastIndexOf('@') + 1;
  return scheme.toLowerCase() + authority.slice(0, at) + authority.slice(at).toLowerCase() + path.replace(/\/+$/, '');
}

/** The user name (and password) part of a URL's authority, if it has one. */
function userOf(url: string): string | undefined {
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/]*)/.exec(url)?.[1];
  const at = authority?.lastIndexOf('@') ?? -1;
  return at >= 0 ? authority!.slice(0, at) : undefined;
}

/** The base the owner would add for `url` to be accepted, when the URL does end in the repository's path. */
function baseOf(url: string, repository: string): string | undefined {
  const trimmed = url.replace(/\/+$/, '');
  for (const suffix of [`/${repository}.git`, `/${repository}`]) {
    if (trimmed.endsWith(suffix)) return trimmed.slice(0, -suffix.length + 1);
  }
  return undefined;
}
