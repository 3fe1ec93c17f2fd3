/**
 * One HTTP(S) request to a registry or its token server, on Node's own `http`/`https` (the agent avoids `fetch`, whose
 * implementation costs an idle agent about 13 MB), answering with the exact body bytes — a manifest is hashed as
 * received, so it is never decoded to text and back — capped at `maxBytes`. Redirects are not followed: manifests and
 * tokens are answered directly, and a blob's redirect is the downloader's to follow.
 *
 * @example
 * const res = await requestBytes(new URL('https://ghcr.io/v2/'), { headers: {}, timeoutMs: 10_000, maxBytes: 65_536 });
 * res.status; // 401
 */
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';

// `import … from 'node:http'` evaluates lazy getters that load Node's whole fetch implementation; `require` does not.
const require = createRequire(import.meta.url);
const { request: httpRequestRaw } = require('node:http') as typeof Http;
const { request: httpsRequestRaw } = require('node:https') as typeof Https;

export interface BytesResponse {
  status: number;
  body: Buffer;
  /** Response headers, names in lower case. */
  headers: Http.IncomingHttpHeaders;
}

/** Thrown when the body is longer than `maxBytes`; callers turn it into a message naming what was too large. */
export class TooLargeError extends Error {}

export function requestBytes(
  url: URL,
  options: { method?: string; headers: Record<string, string>; timeoutMs: number; maxBytes: number },
): Promise<BytesResponse> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const req = (secure ? httpsRequestRaw : httpRequestRaw)(
      url,
      { method: options.method ?? 'GET', headers: options.headers, timeout: options.timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) req.destroy(new TooLargeError(`the answer from ${url.host} is larger than ${options.maxBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
