/**
 * Where a download goes on a redirect, and with which of the caller's headers. GitHub answers an artifact download
 * with a 302 to its blob store: the token the hub handed over is for GitHub's API, so it never follows a redirect,
 * to another origin or not (the blob URL carries its own signature). A redirect from https to http is refused: it would put the bytes (and the
 * signed URL) on the wire in the clear. Whatever the route, the digest decides whether the bytes are used.
 *
 * @example
 * redirectTarget('https://api.github.com/repos/a/b/actions/artifacts/1/zip', 'https://blob.example/x?sig=s');
 * // { url: 'https://blob.example/x?sig=s' } — followed without the caller's headers (openArtifactResponse)
 * redirectTarget('https://cdn.example/a', 'http://cdn.example/a'); // { refusal: 'it redirects from https to http …' }
 */

export type RedirectTarget = { url: string; refusal?: undefined } | { refusal: string };

export function redirectTarget(from: string, location: string): RedirectTarget {
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    return { refusal: 'it redirects to a location that is not a URL' };
  }
  const source = new URL(from);
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return { refusal: `it redirects to a ${target.protocol} URL; only http(s) is followed` };
  if (source.protocol === 'https:' && target.protocol === 'http:') {
    return { refusal: `it redirects from https to http (${target.host}); a downgrade would send the download in the clear, so it is never followed` };
  }
  return { url: target.href };
}
