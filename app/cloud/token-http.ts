/**
 * The HTTP the cloud token sources share: one request to a token endpoint or a metadata service, read as JSON, and
 * the pieces of an OAuth 2.0 answer (RFC 6749 §5.1 and §5.2) that the hub needs. Every message built here runs
 * through {@link redact} with the request's secrets first: a token endpoint that echoes what it was sent must not
 * put a client secret or a signed assertion into the hub's log or onto the status page.
 *
 * @example
 * const answer = await requestToken({ what: 'GCP metadata server', url, headers: { 'metadata-flavor': 'Google' }, timeoutMs: 5_000, unreachable: 'run on GCE' });
 * if (answer.status === 200) return readAccessToken(answer, 'GCP metadata server', Date.now());
 */
import { isJsonObject, stringAt, type JsonObject } from './discovery-json.js';
import type { FetchedToken } from './token-cache.js';

/** Token answers are a few kilobytes; anything much larger is not one, and is not read into memory whole. */
const MAX_ANSWER_CHARS = 64 * 1024;
/** What the server said goes into messages, capped: they end up in logs and on the status page. */
const MAX_SAID_CHARS = 500;

export interface TokenRequest {
  /** Who asks whom, for messages: `GCP token exchange for sa@p.iam.gserviceaccount.com`. */
  what: string;
  url: URL;
  headers: Record<string, string>;
  /** A form body makes it a POST. */
  form?: URLSearchParams;
  timeoutMs: number;
  /** The remedy when the endpoint cannot be reached at all, appended after " — ". */
  unreachable: string;
  /** Values never to appear in a message, even when the server repeats them. */
  secrets?: string[];
}

export interface TokenAnswer {
  status: number;
  headers: Headers;
  /** The JSON object answered, or undefined when the body is not one. */
  body: JsonObject | undefined;
  /** The body as text, capped and redacted, for messages when it is not JSON. */
  text: string;
}

/** Sends the request; rejects only when no answer came (unreachable, timed out, redirected). */
export async function requestToken(request: TokenRequest): Promise<TokenAnswer> {
  const response = await send(request);
  // A redirect is refused rather than followed: fetch would resend the form, secret included, wherever it points.
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel();
    throw new Error(`${request.what}: ${request.url.host} answered HTTP ${response.status}, a redirect; not followed, since the credentials would go along — is a proxy in the way?`);
  }
  const text = redact((await response.text()).slice(0, MAX_ANSWER_CHARS), request.secrets);
  return { status: response.status, headers: response.headers, body: parseObject(text), text: text.slice(0, MAX_SAID_CHARS) };
}

async function send(request: TokenRequest): Promise<Response> {
  const timeout = AbortSignal.timeout(request.timeoutMs);
  try {
    return await fetch(request.url, {
      method: request.form ? 'POST' : 'GET',
      headers: { accept: 'application/json', ...request.headers },
      ...(request.form ? { body: request.form } : {}),
      signal: timeout,
      redirect: 'manual',
    });
  } catch (err) {
    const reason = timeout.aborted ? `no answer within ${request.timeoutMs / 1000} s` : networkReason(err);
    throw new Error(`${request.what}: could not reach ${request.url.host} (${redact(reason, request.secrets)}) — ${request.unreachable}`, { cause: err });
  }
}

/** fetch says only "fetch failed"; the cause says which (`getaddrinfo ENOTFOUND metadata.google.internal`). */
function networkReason(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

function parseObject(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isJsonObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The token of a successful answer: `access_token`, a bearer `token_type` when given, and its lifetime from
 * `expires_in` in seconds (a number from Google and Entra ID, a string from Azure IMDS) or, failing that, from
 * `expires_on` in epoch seconds (some Azure managed-identity endpoints give only that) against `now`.
 */
export function readAccessToken(answer: TokenAnswer, what: string, now: number): FetchedToken {
  const token = stringAt(answer.body, 'access_token');
  if (!token) throw new Error(`${what}: answered HTTP ${answer.status} without an access_token — is a proxy in the way?`);
  const type = stringAt(answer.body, 'token_type');
  // Case-insensitive per RFC 6749 §5.1; anything but a bearer token cannot go into an Authorization: Bearer header.
  if (type !== undefined && type.toLowerCase() !== 'bearer') throw new Error(`${what}: answered a token of type ${JSON.stringify(type.slice(0, 40))}, expected Bearer`);
  const expiresInMs = lifetimeMs(answer.body, now);
  if (expiresInMs === undefined) throw new Error(`${what}: answered a token without a usable expires_in — is a proxy in the way?`);
  return { token, expiresInMs };
}

/** Relative `expires_in` first: it holds even when the hub's clock is off; absolute `expires_on` only without it. */
function lifetimeMs(body: JsonObject | undefined, now: number): number | undefined {
  const seconds = positiveNumber(body?.['expires_in']);
  if (seconds !== undefined) return seconds * 1000;
  const expiresOn = positiveNumber(body?.['expires_on']);
  if (expiresOn === undefined) return undefined;
  const ms = expiresOn * 1000 - now;
  return ms > 0 ? ms : undefined;
}

function positiveNumber(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) && number > 0 ? number : undefined;
}

/** An OAuth error answer (`error`, `error_description`), or the start of the body when it is not one. */
export function describeRefusal(answer: TokenAnswer): { error?: string; said: string } {
  const error = stringAt(answer.body, 'error');
  // Entra ID spreads Trace ID, Correlation ID and Timestamp over several lines: worth keeping, on one line.
  const description = stringAt(answer.body, 'error_description')?.replace(/\s+/g, ' ').trim().slice(0, MAX_SAID_CHARS);
  const said = [error, description].filter(Boolean).join(': ') || answer.text.replace(/\s+/g, ' ').trim() || 'an empty answer';
  return { ...(error ? { error } : {}), said };
}

/**
 * Replaces every secret in `text` with `[redacted]`. Secrets shorter than 8 characters are left alone: replacing
 * them would mangle ordinary words while protecting nothing.
 */
export function redact(text: string, secrets: string[] = []): string {
  let clean = text;
  for (const secret of secrets) {
    if (secret.length >= 8) clean = clean.split(secret).join('[redacted]');
  }
  return clean;
}
