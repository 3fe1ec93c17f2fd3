/**
 * One GET of an artifact (./raw-http-get.ts: one fixed read buffer, not Node's `http` client), following up to
 * {@link MAX_REDIRECTS} redirects by the rule of ./redirect-target.ts. The answer's body is left unread for the caller
 * to stream; the connection's idle timeout keeps applying while it does.
 *
 * @example
 * const { response } = await openArtifactResponse('https://cdn.example/app.tgz', { headers: {}, extraHeaders: { range: 'bytes=100-' }, timeoutMs: 30_000 });
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { shownUrl } from './artifact-url.js';
import { rawGet, type RawResponse } from './raw-http-get.js';
import { redirectTarget } from './redirect-target.js';

/** GitHub needs one (API → blob store); five leave room for a CDN's own hops and stop a redirect loop. */
export const MAX_REDIRECTS = 5;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface OpenOptions {
  /** The caller's headers (a token): sent to the first origin and to redirects on that same origin only. */
  headers: Record<string, string>;
  /** Headers for every hop (`range`, `if-range`). */
  extraHeaders: Record<string, string>;
  /** No byte for this long, while waiting for the answer or reading its body, fails the request. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export async function openArtifactResponse(url: string, options: OpenOptions): Promise<{ response: RawResponse; url: string }> {
  let current = url;
  let headers = options.headers;
  for (let hop = 0; ; hop++) {
    const response = await sendGet(current, { ...headers, ...options.extraHeaders }, options);
    const location = response.headers.location;
    if (!REDIRECTS.has(response.statusCode) || location === undefined) return { response, url: current };
    response.destroy();
    if (hop >= MAX_REDIRECTS) {
      throw new BitEnvoyError('BE_ARTIFACT', `artifact ${shownUrl(url)}: more than ${MAX_REDIRECTS} redirects (the last to ${shownUrl(current)}); fix the artifact's source so it answers within ${MAX_REDIRECTS} redirects`);
    }
    const next = redirectTarget(current, location);
    if (next.refusal !== undefined) {
      throw new BitEnvoyError('BE_ARTIFACT', `artifact ${shownUrl(url)}: not following the redirect from ${shownUrl(current)}: ${next.refusal}; serve the artifact over https end to end`);
    }
    current = next.url;
    // The caller's headers (a token) are for the URL the hub named only: a redirect leads to the bytes' own place
    // (GitHub's blob store, a CDN, a storage path of the same host), whose URL carries its own signature.
    headers = {};
  }
}

function sendGet(url: string, headers: Record<string, string>, options: OpenOptions): Promise<RawResponse> {
  // A fresh connection per download, read into one fixed buffer (raw-http-get.ts).
  return rawGet(url, headers, { timeoutMs: options.timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
}
