/**
 * The HTTP plumbing the REST discovery scopes (GCP, Azure) share: GET every page of a JSON listing with a bearer
 * token, and turn each failure into a message that names the scope and says what to fix. Throttling becomes a
 * {@link ThrottledError} carrying the provider's `Retry-After`, so the discovery loop waits as long as it was asked.
 * Any failed page rejects the whole listing: a partial list must never replace the last good snapshot.
 *
 * @example
 * const pages = await getAllPages(api, firstUrl, (page) => nextUrlOf(page), signal);
 */
import { ThrottledError } from './cloud-instance.js';
import { isJsonObject, objectAt, objectsAt, stringAt, type JsonObject } from './discovery-json.js';

/** When a throttling provider gives no hint: long enough for a per-minute quota to refill. */
export const DEFAULT_THROTTLE_MS = 30_000;
/** A provider's own hint is obeyed up to this; beyond it the scope's listing goes stale and says so anyway. */
const MAX_THROTTLE_MS = 60 * 60_000;
/** 1,000 pages are 500,000 GCP instances: more means a provider handing out tokens that never end. */
export const MAX_PAGES = 1_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** Gives a bearer token for the provider's API. Called for every page: the token source is expected to cache. */
export type GetAccessToken = () => Promise<string>;

/** A provider's error answer, reduced to what a message needs (Google and ARM both wrap it in `{ error: … }`). */
export interface ProviderFailure {
  status: number;
  /** Google's `status` (`PERMISSION_DENIED`) or ARM's `code` (`AuthorizationFailed`). */
  code?: string;
  message?: string;
  /** Google's `errors[].reason` (`rateLimitExceeded`). */
  reasons: string[];
}

export interface JsonApi {
  scopeId: string;
  getAccessToken: GetAccessToken;
  /** What the operator should do about this failure, e.g. which role to grant; appended after " — ". */
  remedy(failure: ProviderFailure): string;
  /** Throttling besides HTTP 429 (Google also answers 403 `rateLimitExceeded`). */
  isThrottled?(failure: ProviderFailure): boolean;
}

/**
 * Every page of a listing, starting at `first` and following `next` until it gives no URL. Rejects on the first
 * failed page, on a URL seen before (a loop would never end) and past {@link MAX_PAGES}.
 */
export async function getAllPages(
  api: JsonApi,
  first: URL,
  next: (page: JsonObject, url: URL) => URL | undefined,
  signal?: AbortSignal,
): Promise<JsonObject[]> {
  const pages: JsonObject[] = [];
  const seen = new Set<string>();
  let url: URL | undefined = first;
  while (url) {
    if (seen.has(url.href)) throw new Error(`${api.scopeId}: ${url.host} sent the same next page twice; the listing would never end, so it is abandoned — retry later or report it to the provider`);
    if (pages.length >= MAX_PAGES) throw new Error(`${api.scopeId}: more than ${MAX_PAGES} pages; the listing is abandoned — split the scope or report it`);
    seen.add(url.href);
    const page = await getJsonPage(api, url, signal);
    pages.push(page);
    url = next(page, url);
  }
  return pages;
}

/** One page: GET with the bearer token, a timeout, and a message that says what to fix when it fails. */
export async function getJsonPage(api: JsonApi, url: URL, signal?: AbortSignal): Promise<JsonObject> {
  const token = await accessToken(api);
  const { response, text } = await fetchText(api, url, token, signal);
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get('location') ?? 'nowhere';
    throw new Error(`${api.scopeId}: ${url.host} answered HTTP ${response.status}, a redirect to ${location}; not followed, since the access token would go along — is a proxy in the way?`);
  }
  if (!response.ok) throw failureError(api, url, response, text);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${api.scopeId}: ${url.host} answered ${response.status} with something that is not JSON — is a proxy in the way?`);
  }
  if (!isJsonObject(body)) throw new Error(`${api.scopeId}: ${url.host} answered with JSON that is not an object — is a proxy in the way?`);
  return body;
}

async function accessToken(api: JsonApi): Promise<string> {
  try {
    return await api.getAccessToken();
  } catch (err) {
    throw new Error(`${api.scopeId}: could not get an access token: ${(err as Error).message} — check the hub's credentials for this provider`, { cause: err });
  }
}

async function fetchText(api: JsonApi, url: URL, token: string, signal?: AbortSignal): Promise<{ response: Response; text: string }> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      // A redirect would carry the bearer token to wherever it points: refused below, with a clear message.
      redirect: 'manual',
    });
    return { response, text: await response.text() };
  } catch (err) {
    if (signal?.aborted) throw new Error(`${api.scopeId}: listing cancelled`, { cause: err });
    if (timeout.aborted) throw new Error(`${api.scopeId}: ${url.host} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s — check the hub's outbound network (proxy, firewall)`, { cause: err });
    const reason = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new Error(`${api.scopeId}: could not reach ${url.host}: ${reason} — check the hub's outbound network (DNS, proxy, firewall)`, { cause: err });
  }
}

function failureError(api: JsonApi, url: URL, response: Response, text: string): Error {
  const failure = readFailure(response.status, text);
  const said = [failure.code, failure.message].filter(Boolean).join(': ');
  const what = `${api.scopeId}: ${url.host} answered HTTP ${response.status}${said ? `: ${said}` : ''}`;
  if (response.status === 429 || api.isThrottled?.(failure)) {
    const waitMs = parseRetryAfter(response.headers.get('retry-after')) ?? DEFAULT_THROTTLE_MS;
    return new ThrottledError(`${what} — throttled; trying again in ${Math.ceil(waitMs / 1000)} s`, waitMs);
  }
  return new Error(`${what} — ${api.remedy(failure)}`);
}

/** `{ error: { code, status?, message, errors?: [{ reason }] } }`, as Google and ARM both send it. */
export function readFailure(status: number, text: string): ProviderFailure {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { status, reasons: [] };
  }
  const error = objectAt(body, 'error');
  // Google's numeric `code` repeats the HTTP status and its `status` is the name; ARM's `code` is the name.
  const code = stringAt(error, 'status') ?? stringAt(error, 'code');
  // Capped: the message ends up in logs and on the status page.
  const message = stringAt(error, 'message')?.slice(0, 500);
  const reasons = objectsAt(error, 'errors').flatMap((e) => stringAt(e, 'reason') ?? []);
  return { status, reasons, ...(code ? { code } : {}), ...(message ? { message } : {}) };
}

/**
 * `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3), at least a second and at most an
 * hour. Undefined when absent or unreadable.
 *
 * @example
 * parseRetryAfter('17'); // 17000
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const ms = retryAfterMs(value.trim(), now);
  if (Number.isNaN(ms)) return undefined;
  return Math.min(MAX_THROTTLE_MS, Math.max(1000, ms));
}

function retryAfterMs(value: string, now: number): number {
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP date always ends in GMT; other strings Date.parse accepts ('-3' is a year) are no Retry-After.
  return / GMT$/.test(value) ? Date.parse(value) - now : NaN;
}
