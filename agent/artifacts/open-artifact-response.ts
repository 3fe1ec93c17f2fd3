/**
 * One GET of an artifact on Node's own `http`/`https` (see agent/http-request.ts for why not the global fetch),
 * following up to {@link MAX_REDIRECTS} redirects by the rule of ./redirect-target.ts. The answer's body is left
 * unread for the caller to stream; the request's idle timeout keeps applying while it does.
 *
 * @example
 * const { response } = await openArtifactResponse('https://cdn.example/app.tgz', { headers: {}, extraHeaders: { range: 'bytes=100-' }, timeoutMs: 30_000 });
 */
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import { BitEnvoyError } from '../../lib/errors.js';
import { shownUrl } from './artifact-url.js';
import { redirectTarget } from './redirect-target.js';

// `require`, not `import`: importing node:http evaluates the getters that load Node's fetch (~10 MB of memory).
const require = createRequire(import.meta.url);
const { request: httpRequestRaw } = require('node:http') as typeof Http;
const { request: httpsRequestRaw } = require('node:https') as typeof Https;

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

export async function openArtifactResponse(url: string, options: OpenOptions): Promise<{ response: Http.IncomingMessage; url: string }> {
  let current = url;
  let headers = options.headers;
  for (let hop = 0; ; hop++) {
    const response = await sendGet(current, { ...headers, ...options.extraHeaders }, options);
    const location = response.headers.location;
    if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined) return { response, url: current };
    response.resume();
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

function sendGet(url: string, headers: Record<string, string>, options: OpenOptions): Promise<Http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequestRaw : httpRequestRaw;
    // A fresh connection per download: a pooled socket that the last download left mid-body is of no use.
    let answer: Http.IncomingMessage | undefined;
    const req = send(target, { method: 'GET', headers, agent: false, signal: options.signal, timeout: options.timeoutMs }, (response) => {
      answer = response;
      // The caller may await other things before it reads the body; a connection lost meanwhile is seen then
      // (`destroyed`, `errored`), not thrown here with no one listening.
      response.on('error', () => undefined);
      resolve(response);
    });
    req.on('timeout', () => {
      const err = Object.assign(new Error(`no bytes from ${target.host} for ${options.timeoutMs} ms`), { code: 'ETIMEDOUT' });
      // The body's reader sees this error rather than Node's generic `aborted`.
      answer?.destroy(err);
      req.destroy(err);
    });
    req.on('error', reject);
    req.end();
  });
}
