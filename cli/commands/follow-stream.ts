/**
 * Follows a deployment through the hub's event stream (`GET /api/v1/deployments/:id/events`): each `summary` event is
 * handed to the caller, who says when the deployment is final. A stream cut before that is opened again (after 0.5 s,
 * doubling to 5 s); the first event of each stream is the current summary, so nothing that happened in between is
 * missed. A hub without the route (an older one) answers 404: the caller then polls the summary as before.
 *
 * @example
 * const outcome = await followStream(target, 'dep_1a2b', (summary) => isFinalSummary(summary));
 * if (outcome !== 'final') await pollSummary(target, 'dep_1a2b');
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { ADMIN_API_PREFIX, FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { oneLine } from '../../lib/strip-controls.js';
import type { DeploymentSummary } from '../../app/rollout/deployment-view.js';
import type { AdminTarget } from './admin-client.js';
import { SseParser } from './sse-parser.js';

/** Waits before opening a cut stream again: the first, and the longest after doubling. */
export const RECONNECT_FIRST_MS = 500;
export const RECONNECT_MAX_MS = 5000;
/** A stream silent this long (the hub writes a keepalive every 15 s) is taken as cut and opened again. */
const IDLE_MS = 45_000;
/** With nothing at all from the hub for this long, across attempts, following stops with an error. */
const GIVE_UP_MS = 60_000;
/** Most of an error answer read (its JSON envelope is small). */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * How following through the stream ended: the deployment is `final`; or the caller polls the summary instead, because
 * the hub has no stream (`no-stream`: 404, an older hub) or no room for another (`busy`: 503 past its cap of streams).
 */
export type StreamOutcome = 'final' | 'no-stream' | 'busy';

type Outcome = StreamOutcome | 'cut';

/**
 * Calls `onSummary` with each summary the stream brings until it returns true (the deployment is final), opening the
 * stream again when it is cut; resolves `final` then, or at once with why the caller has to poll instead.
 */
export async function followStream(target: AdminTarget, id: string, onSummary: (summary: DeploymentSummary) => boolean): Promise<StreamOutcome> {
  const heard = { at: Date.now() };
  let delay = RECONNECT_FIRST_MS;
  for (;;) {
    const before = heard.at;
    const outcome = await streamOnce(target, id, onSummary, heard);
    if (outcome !== 'cut') return outcome;
    // A stream that brought something was working: the next cut starts the backoff over.
    if (heard.at !== before) delay = RECONNECT_FIRST_MS;
    if (Date.now() - heard.at > GIVE_UP_MS) {
      throw new BitEnvoyError('BE_USAGE', `lost the hub at ${target.hub}: nothing from it for ${GIVE_UP_MS / 1000} s while following ${id}; the deployment goes on without this command: check the hub, then see the status page or \`GET /api/v1/deployments/${id}\``, {
        details: { unreachable: true },
      });
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
  }
}

/** One stream, from the request to its end, a cut, or the final summary. */
async function streamOnce(target: AdminTarget, id: string, onSummary: (summary: DeploymentSummary) => boolean, heard: { at: number }): Promise<Outcome> {
  const abort = new AbortController();
  const idle = setTimeout(() => abort.abort(), IDLE_MS);
  try {
    let res: Response;
    try {
      res = await fetch(`${target.hub}${ADMIN_API_PREFIX}/deployments/${encodeURIComponent(id)}/events`, {
        headers: { authorization: `Bearer ${target.token}`, accept: 'text/event-stream' },
        signal: abort.signal,
      });
    } catch {
      return 'cut';
    }
    if (!res.ok) return await refusal(res);
    if (!/^text\/event-stream\b/i.test(res.headers.get('content-type') ?? '') || !res.body) {
      throw new BitEnvoyError('BE_INTERNAL', `the hub at ${target.hub} answered the deployment's event stream with ${oneLine(res.headers.get('content-type') ?? 'no content type')}, not text/event-stream; is that URL a BitEnvoy hub?`);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser(target.hub);
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch {
        return 'cut'; // the connection broke, or stayed silent past IDLE_MS
      }
      if (chunk.done) return 'cut';
      heard.at = Date.now();
      idle.refresh();
      for (const message of parser.push(decoder.decode(chunk.value, { stream: true }))) {
        // `end` comes after the final summary, which returned already: without one, the next stream brings it.
        if (message.event === 'end') return 'cut';
        if (message.event === 'summary' && onSummary(checkSummary(parseJson(message.data, target.hub), target.hub))) return 'final';
      }
    }
  } finally {
    clearTimeout(idle);
    // Closes the connection: a stream left open would keep the process alive.
    abort.abort();
  }
}

/**
 * What a refused stream means: no stream here (404: an older hub, or no such deployment, which the summary route then
 * reports — both answer `BE_NOT_FOUND`), busy, cut, or an error to stop at.
 */
async function refusal(res: Response): Promise<Outcome> {
  const text = await readCapped(res, MAX_ERROR_BODY);
  let error: { code?: unknown; message?: unknown } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    error = undefined;
  }
  if (res.status === 404) return 'no-stream';
  // Past the hub's cap of open streams: the summary route still answers.
  if (res.status === 503 && error?.code === 'BE_BUSY') return 'busy';
  // A hub restarting behind a proxy (502, 503, 504): try again.
  if (res.status >= 500) return 'cut';
  throw new BitEnvoyError('BE_DEPLOY_REJECTED', `hub answered ${res.status} ${oneLine(String(error?.code ?? ''))}: ${oneLine(String(error?.message ?? text))}`, { status: res.status });
}

async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < max) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // What arrived is enough to say what went wrong.
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  return text.slice(0, max);
}

function parseJson(data: string, hub: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    throw new BitEnvoyError('BE_INTERNAL', `the hub at ${hub} sent a deployment summary that is not JSON on the event stream; is that URL a BitEnvoy hub?`);
  }
}

/**
 * The summary, once the fields the CLI prints have the types it prints them as (the hub's answer, or a stranger's).
 *
 * @example
 * const summary = checkSummary(await res.json(), 'http://hub:3000');
 */
export function checkSummary(value: unknown, hub: string): DeploymentSummary {
  const s = value as Partial<DeploymentSummary> | null;
  const dep = s?.deployment;
  const ok =
    typeof s === 'object' &&
    s !== null &&
    typeof dep === 'object' &&
    dep !== null &&
    typeof dep.state === 'string' &&
    typeof dep.description === 'string' &&
    (s.counts === undefined || (typeof s.counts === 'object' && s.counts !== null)) &&
    (s.failures === undefined || (Array.isArray(s.failures) && s.failures.every((f) => typeof f === 'object' && f !== null && typeof f.jobId === 'string')));
  if (!ok) throw new BitEnvoyError('BE_INTERNAL', `the hub at ${hub} sent a deployment summary without the expected fields (deployment.state, deployment.description); is that URL a BitEnvoy hub of this version?`);
  return s as DeploymentSummary;
}

/** True for a summary of a deployment that has ended. */
export function isFinalSummary(summary: DeploymentSummary): boolean {
  return FINAL_DEPLOYMENT_STATES.includes(summary.deployment.state);
}
