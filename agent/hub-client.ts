/**
 * The agent's side of the agent API v1 (lib/protocol.ts). Network errors and 5xx answers are retried with jittered
 * exponential backoff for as long as the agent runs — a hub restart or a network cut only delays delivery; a 429
 * (BE_RATE_LIMITED) is retried no sooner than its `Retry-After` says; other 4xx answers come back as BitEnvoyErrors
 * carrying the hub's code and message.
 *
 * @example
 * const hub = new HubClient({ hub: 'https://bitenvoy.example.com', credential, log });
 * const next = await hub.nextJob(50, signal);
 */
import { BitEnvoyError, type ErrorCode } from '../lib/errors.js';
import { httpRequest } from './http-request.js';
import { version } from '../lib/package-root.js';
import type { Logger } from '../lib/logger.js';
import {
  AGENT_API_PREFIX,
  AGENT_VERSION_HEADER,
  type AckResponse,
  type ClaimResponse,
  type CloudAttestRequest,
  type CloudAttestResponse,
  type CloudNonceRequest,
  type CloudNonceResponse,
  type EnrollRequest,
  type EnrollResponse,
  type JobEvent,
  type JobSpec,
  type LeaseResponse,
  type LogChunk,
} from '../lib/protocol.js';

/** Retry timing: the n-th retry (from 0) waits between `baseMs` and min(`capMs`, `baseMs`·2ⁿ), at random. */
export interface Backoff {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 250, capMs: 10_000 };

/** A hub (or proxy) asking for more than this is not waited for longer: the agent must not go quiet for hours. */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

/**
 * How long to wait before retry number `attempt` (0-based): never less than `baseMs` — so nothing is ever retried in a
 * tight loop — and otherwise at random up to the doubling window, so many agents do not retry in step.
 *
 * @example
 * backoffDelay({ baseMs: 250, capMs: 10_000 }, 3); // somewhere in 250…2000 ms
 */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const window = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
  return backoff.baseMs + random() * Math.max(0, window - backoff.baseMs);
}

/**
 * How long a `Retry-After` answer asks to wait, in ms: the header (seconds, or an HTTP date), else the error's
 * `details.retryAfterSeconds`; undefined when neither says. At most MAX_RETRY_AFTER_MS.
 */
export function retryAfterMs(header: string | string[] | undefined, details: Record<string, unknown> | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  let ms: number | undefined;
  if (value !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(value)) ms = Number(value) * 1000;
  else if (value !== undefined && !Number.isNaN(Date.parse(value))) ms = Math.max(0, Date.parse(value) - now);
  else if (typeof details?.retryAfterSeconds === 'number' && Number.isFinite(details.retryAfterSeconds)) ms = Math.max(0, details.retryAfterSeconds * 1000);
  return ms === undefined ? undefined : Math.min(ms, MAX_RETRY_AFTER_MS);
}

export class HubClient {
  #hub: string;
  #credential: string | undefined;
  /** A poll was answered: the hub has heard this agent's version. */
  #versionTold = false;
  #log: Logger;
  #backoff: Backoff;

  constructor(options: { hub: string; credential?: string; log: Logger; backoff?: Backoff }) {
    this.#hub = options.hub.replace(/\/+$/, '');
    this.#credential = options.credential;
    this.#log = options.log;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  enroll(req: EnrollRequest): Promise<EnrollResponse> {
    return this.#request('POST', '/enroll', req, { retry: false }) as Promise<EnrollResponse>;
  }

  /**
   * Long poll: a job, or undefined when the hub held the request `waitSeconds` and none came. Until one poll has been
   * answered, the poll says which version this agent is ({@link AGENT_VERSION_HEADER}): the hub then knows an upgraded
   * agent's version without a request of its own, and never reads the header again from it.
   */
  async nextJob(waitSeconds: number, signal?: AbortSignal): Promise<JobSpec | undefined> {
    const headers: Record<string, string> = this.#versionTold ? {} : { [AGENT_VERSION_HEADER]: version };
    const res = (await this.#request('GET', `/jobs/next?wait=${waitSeconds}`, undefined, { signal, timeoutMs: (waitSeconds + 15) * 1000, headers })) as { job: JobSpec } | undefined;
    this.#versionTold = true;
    return res?.job;
  }

  claim(jobId: string, claimId: string, signal?: AbortSignal): Promise<ClaimResponse> {
    return this.#request('POST', `/jobs/${encodeURIComponent(jobId)}/claim`, { claimId }, { signal }) as Promise<ClaimResponse>;
  }

  renewLease(jobId: string, claimId: string, signal?: AbortSignal): Promise<LeaseResponse> {
    return this.#request('POST', `/jobs/${encodeURIComponent(jobId)}/lease`, { claimId }, { signal }) as Promise<LeaseResponse>;
  }

  sendEvents(jobId: string, claimId: string, events: JobEvent[], signal?: AbortSignal): Promise<AckResponse> {
    return this.#request('POST', `/jobs/${encodeURIComponent(jobId)}/events`, { claimId, events }, { signal }) as Promise<AckResponse>;
  }

  /** A single-use nonce for the next cloud identity evidence (no retry: the caller tries again later). */
  cloudNonce(provider: CloudNonceRequest['provider'], signal?: AbortSignal): Promise<CloudNonceResponse> {
    return this.#request('POST', '/cloud/nonce', { provider }, { retry: false, signal }) as Promise<CloudNonceResponse>;
  }

  /** Sends the provider-signed evidence; the hub answers the identity it bound, or refuses (BE_ATTESTATION_REFUSED, BE_CONFLICT). */
  attest(evidence: CloudAttestRequest['evidence'], signal?: AbortSignal): Promise<CloudAttestResponse> {
    return this.#request('POST', '/cloud/attest', { evidence }, { retry: false, signal }) as Promise<CloudAttestResponse>;
  }

  sendLogs(jobId: string, claimId: string, chunks: LogChunk[], signal?: AbortSignal): Promise<AckResponse> {
    return this.#request('POST', `/jobs/${encodeURIComponent(jobId)}/logs`, { claimId, chunks }, { signal }) as Promise<AckResponse>;
  }

  async #request(method: string, path: string, body: unknown, options: { retry?: boolean; signal?: AbortSignal; timeoutMs?: number; headers?: Record<string, string> }): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      options.signal?.throwIfAborted();
      let failure: string;
      /** What the hub asked to wait (429, or a 503 with Retry-After) before this request is sent again. */
      let wait: number | undefined;
      try {
        const res = await httpRequest(method, `${this.#hub}${AGENT_API_PREFIX}${path}`, {
          headers: {
            ...options.headers,
            ...(this.#credential ? { authorization: `Bearer ${this.#credential}` } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          timeoutMs: options.timeoutMs ?? 30_000,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        if (res.status === 204) return undefined;
        const text = res.text;
        if (res.status >= 200 && res.status < 300) return JSON.parse(text);
        const error = safeJson(text)?.error;
        const refused = () =>
          new BitEnvoyError((error?.code ?? 'BE_BAD_REQUEST') as ErrorCode, error?.message ?? `hub answered ${res.status}`, {
            status: res.status,
            details: error?.details,
          });
        if (res.status === 429 && options.retry !== false) {
          // Rate limited: nothing is wrong with the request, it is only too soon. Sent again once the hub allows.
          wait = retryAfterMs(res.headers['retry-after'], error?.details) ?? 0;
          failure = `hub asked to slow down (${res.status} ${error?.code ?? ''}: ${error?.message ?? ''})`;
        } else if (res.status < 500) {
          throw refused();
        } else {
          wait = retryAfterMs(res.headers['retry-after'], undefined);
          failure = `hub answered ${res.status}: ${error?.message ?? text.slice(0, 200)}`;
        }
      } catch (err) {
        if (err instanceof BitEnvoyError) throw err;
        // Stopped mid-request: the caller gets the reason it stopped with, as when stopped between tries.
        if (options.signal?.aborted) throw options.signal.reason ?? err;
        failure = `cannot reach the hub at ${this.#hub}: ${(err as Error).message}`;
      }
      if (options.retry === false) throw new BitEnvoyError('BE_INTERNAL', failure, { status: 503 });
      // At least what the hub asked for, plus the backoff's jitter so agents told the same do not return together.
      const delay = (wait ?? 0) + backoffDelay(this.#backoff, attempt);
      (attempt < 3 ? this.#log.debug : this.#log.warn).call(this.#log, { attempt, path }, `${failure}; retrying in ${Math.round(delay)} ms`);
      await sleep(delay, options.signal);
    }
  }
}

function safeJson(text: string): { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
