/**
 * A minimal HTTP(S) client on Node's own `http`/`https` modules. The agent uses it instead of the global `fetch`
 * because fetch's implementation costs an idle agent about 13 MB of memory; a keep-alive pool also spares a new
 * connection per request.
 *
 * @example
 * const { status, text } = await httpRequest('POST', 'https://hub/api/agent/v1/enroll', { body: '{}', headers, timeoutMs: 30_000 });
 */
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';

// `import … from 'node:http'` evaluates every export of the module namespace, including lazy getters that load
// Node's whole fetch implementation (undici, ~10 MB); `require` only touches what is used.
const require = createRequire(import.meta.url);
const { Agent: HttpAgent, request: httpRequestRaw } = require('node:http') as typeof Http;

/**
 * The largest answer read from the hub. Its answers are small JSON (a job, an acknowledgement); a hub gone wrong that
 * sends without end must not exhaust the agent's memory. A larger answer fails like a network error (and is retried).
 */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 8 });
/** `https` (and TLS) load with the first https request: an agent of a hub on plain http never pays for them. */
let https: { agent: Https.Agent; request: typeof Https.request } | undefined;
function httpsClient(): NonNullable<typeof https> {
  if (!https) {
    const { Agent, request } = require('node:https') as typeof Https;
    https = { agent: new Agent({ keepAlive: true, maxSockets: 8 }), request };
  }
  return https;
}

export interface HttpResponse {
  status: number;
  text: string;
  /** Response headers, names in lower case. */
  headers: Http.IncomingHttpHeaders;
}

export function httpRequest(
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: string; timeoutMs: number; signal?: AbortSignal },
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const headers = { ...options.headers, ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }) };
    const client = secure ? httpsClient() : { agent: httpAgent, request: httpRequestRaw };
    const req = client.request(
      target,
      { method, headers, agent: client.agent, signal: options.signal, timeout: options.timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`the answer from ${target.host} is larger than ${MAX_RESPONSE_BYTES >> 20} MiB; not reading it`));
          else chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
