/**
 * Reading a URL the hub sent for an artifact, strictly, before any allowlist rule compares it. WHATWG `new URL()`
 * quietly turns `/a/../b` into `/b` and keeps `%2f` as is, so a prefix check on its output can be fooled; here a URL
 * is taken apart by hand and any form that could mean two things is refused with the reason.
 *
 * @example
 * parseArtifactUrl('https://CDN.acme.com:443/builds/app.tgz'); // { origin: 'https://cdn.acme.com', path: '/builds/app.tgz' }
 * parseArtifactUrl('https://cdn.acme.com/..%2fetc'); // { flaw: 'it has `%` escapes, …' }
 */
import { withoutCredentials } from '../../lib/redact-url.js';

export type ParsedArtifactUrl = { origin: string; path: string; flaw?: undefined } | { flaw: string };

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443' };

export function parseArtifactUrl(url: string): ParsedArtifactUrl {
  if (/[\s\\\p{Cc}]/u.test(url)) return { flaw: 'it contains spaces, control characters or backslashes' };
  const parts = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(.*)$/.exec(url);
  if (!parts) return { flaw: 'it is not an absolute http(s) URL' };
  const [, scheme = '', authority = '', path = '', rest = ''] = parts;
  const lowerScheme = scheme.toLowerCase();
  if (lowerScheme !== 'https' && lowerScheme !== 'http') return { flaw: `its scheme ${scheme} is not https or http` };
  if (authority.includes('@')) return { flaw: 'it carries a user name or password; credentials come from the hub as request headers, never in the URL' };
  if (rest.startsWith('?')) return { flaw: 'it has a query string' };
  if (rest.startsWith('#')) return { flaw: 'it has a fragment' };
  if (url.includes('%')) return { flaw: 'it has `%` escapes, which could hide a `/` or `..`' };
  if (path.split('/').some((segment) => segment === '..' || segment === '.')) return { flaw: 'it has a `.` or `..` path segment' };
  const hostPort = /^([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?$/.exec(authority);
  if (!hostPort) return { flaw: `its host ${authority || '(empty)'} is not a plain host name or IPv4 address with an optional port` };
  const [, host = '', port] = hostPort;
  const shownPort = port === undefined || port === DEFAULT_PORTS[lowerScheme] ? '' : `:${port}`;
  return { origin: `${lowerScheme}://${host.toLowerCase()}${shownPort}`, path: path || '/' };
}

/**
 * The URL as messages and logs show it: no credentials, and no query string (a signed blob-store URL carries its
 * token there).
 *
 * @example
 * shownUrl('https://u:p@blob.example/x?sig=secret'); // 'https://***@blob.example/x?…'
 */
export function shownUrl(url: string): string {
  const cut = url.search(/[?#]/);
  const head = cut < 0 ? url : `${url.slice(0, cut)}?…`;
  const clean = withoutCredentials(head);
  return clean.length > 300 ? `${clean.slice(0, 300)}…` : clean;
}
