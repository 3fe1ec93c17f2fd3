/**
 * What to do after a request to GitHub failed: wait and try again (how long, and whether GitHub may have done it
 * anyway), or stop because trying again cannot help.
 *
 * GitHub's advice for its rate limits, followed here: wait `Retry-After` seconds when it is sent; on 403/429 with
 * `x-ratelimit-remaining: 0`, wait until `x-ratelimit-reset` (epoch seconds); on another 403/429, wait at least a
 * minute. Everything else backs off exponentially with jitter.
 */
import { withDeadline as withDeadlineFrom } from '../../lib/with-deadline.js';

/** The verdict on one failed request. */
export type GitHubFailureVerdict =
  | {
      retry: true;
      delayMs: number;
      /** GitHub may have done it (no answer, a reset connection, a 5xx): read before doing it again. */
      outcomeUnknown: boolean;
      reason: string;
    }
  | {
      retry: false;
      reason: string;
      /** What an operator can do about it. */
      remedy: string;
    };

export interface Backoff {
  /** The first wait, before jitter (about 1 s). */
  baseMs: number;
  /** No wait is longer (about 5 min), however many failures in a row. */
  maxMs: number;
  /** 0 ≤ x < 1; injected by tests. */
  random?: () => number;
}

// No header makes the hub wait longer than this for one request: a wrong clock or a wrong header must not stop it for good.
const LONGEST_WAIT_MS = 3600_000;
const SECONDARY_LIMIT_WAIT_MS = 60_000;

/**
 * Judges a failed GitHub request.
 *
 * @param failures how many attempts of this request have failed in a row, this one included (1 for the first).
 * @example
 * judgeGitHubFailure(err, 1, { baseMs: 1000, maxMs: 300_000 });
 * // GitHub answered 502 → { retry: true, delayMs: 500…1000, outcomeUnknown: true, reason: 'GitHub answered 502 …' }
 */
export function judgeGitHubFailure(err: unknown, failures: number, backoff: Backoff, now = Date.now()): GitHubFailureVerdict {
  const { status, headers, message } = readError(err);
  const reason = status === undefined ? message : `GitHub answered ${status}${message ? ` (${message})` : ''}`;
  if (status === 404 || status === 410) {
    return { retry: false, reason, remedy: 'the deployment was deleted on GitHub, or the App can no longer see the repository: check that the App is still installed on it with "Deployments: write"' };
  }
  if (status === 400 || status === 422) {
    return { retry: false, reason, remedy: "GitHub found the status invalid: check the environment's `url` in the config repo; if it is right, report this line as a BitEnvoy bug" };
  }
  const grown = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, failures - 1));
  // "Equal jitter": half the wait is fixed, half random, so hubs that failed together do not retry together.
  const jittered = Math.round(grown / 2 + ((backoff.random ?? Math.random)() * grown) / 2);
  const outcomeUnknown = status === undefined || status >= 500;
  const retryAfter = seconds(headers['retry-after']);
  if (retryAfter !== undefined) return { retry: true, delayMs: Math.min(retryAfter * 1000, LONGEST_WAIT_MS), outcomeUnknown, reason: `${reason}, Retry-After ${retryAfter} s` };
  if (status === 403 || status === 429) {
    const reset = seconds(headers['x-ratelimit-reset']);
    if (headers['x-ratelimit-remaining'] === '0' && reset !== undefined) {
      return { retry: true, delayMs: Math.min(Math.max(0, reset * 1000 - now), LONGEST_WAIT_MS), outcomeUnknown: false, reason: `${reason}, rate limit used up until ${new Date(reset * 1000).toISOString()}` };
    }
    return { retry: true, delayMs: Math.max(jittered, SECONDARY_LIMIT_WAIT_MS), outcomeUnknown: false, reason };
  }
  return { retry: true, delayMs: jittered, outcomeUnknown, reason };
}

/**
 * True when GitHub answered the failed request with a refusal (a 4xx): it did not do it, so it can be sent again
 * without first looking whether it was done. False for no answer, a reset connection, a timeout or a 5xx.
 *
 * @example
 * if (!refusedByGitHub(err)) await progress({ ...params, attempted: true }); // look before sending again
 */
export function refusedByGitHub(err: unknown): boolean {
  const { status } = readError(err);
  return status !== undefined && status < 500;
}

/** An Octokit RequestError carries `status` and `response.headers`; a network error or a timeout has neither. */
function readError(err: unknown): { status?: number; headers: Record<string, unknown>; message: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { status?: unknown; response?: { headers?: unknown }; message?: unknown };
  const headers = typeof e.response?.headers === 'object' && e.response.headers !== null ? (e.response.headers as Record<string, unknown>) : {};
  // Octokit reports a failed connection as status 500 without a response: GitHub never answered.
  const answered = typeof e.status === 'number' && (e.status !== 500 || e.response !== undefined);
  const message = typeof e.message === 'string' ? e.message.split('\n')[0]!.slice(0, 200) : String(err);
  return { ...(answered ? { status: e.status as number } : {}), headers, message };
}

function seconds(value: unknown): number | undefined {
  const text = typeof value === 'number' ? String(value) : value;
  return typeof text === 'string' && /^\d{1,10}$/.test(text.trim()) ? Number(text) : undefined;
}

/**
 * `work`, or a rejection after `ms`: a GitHub request that does not answer in time fails like a reset connection
 * (GitHub may or may not have done it, which the failure's verdict says).
 *
 * @example
 * await withDeadline(octokit.request(route, params), 30_000);
 */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  return withDeadlineFrom(work, ms, 'GitHub');
}
