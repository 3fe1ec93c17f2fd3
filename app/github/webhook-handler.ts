/**
 * The webhook endpoint: GitHub's deliveries, checked before they cost anything. In order, and refusing at the first
 * problem with the JSON envelope: method, content type, the three GitHub headers and the signature's form (before
 * a byte of body is read), the declared size (25 MiB at most, GitHub's own cap on payloads is 25 MB), then the body
 * streamed through the HMAC with a running count, cut off (413, then the connection) past the cap or when deliveries
 * in flight together would pass {@link MAX_WEBHOOK_BYTES_IN_FLIGHT} (503). Only a body whose `x-hub-signature-256`
 * matches is parsed and handed to Probot (`webhooks.receive`: the same per-delivery child logger and handlers as
 * Probot's own middleware). A refused body is never parsed and never logged; its log line says who sent what size.
 *
 * @example
 * const handle = await createGitHubWebhookHandler({ probot, appFn, secret, log });
 * createServer((req, res) => (req.url === '/api/github/webhooks' ? handle(req, res) : koa(req, res)));
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApplicationFunction, Probot } from 'probot';
import { BitEnvoyError, toErrorEnvelope } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Store } from '../store/store.js';
import { cutUnreadBody } from '../api/cut-unread-body.js';
import { parseJson } from '../api/read-json-body.js';

/** The largest delivery taken: GitHub caps webhook payloads at 25 MB. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;
/** Bodies of all deliveries being read at once: a few full-size ones. Past it a delivery answers 503. */
export const MAX_WEBHOOK_BYTES_IN_FLIGHT = 100 * 1024 * 1024;
/** GitHub gives up on a delivery after 10 s: past this the hub answers 202 and goes on handling it. */
const ANSWER_WITHIN_MS = 9000;
/**
 * GitHub sends a delivery's body at once and gives up after 10 s: a body still arriving after this is not GitHub's.
 * Cutting it keeps a stalled (unverified) upload from holding its part of the in-flight budget until the server's
 * request timeout.
 */
const BODY_WITHIN_MS = 10_000;

export interface WebhookHandlerOptions {
  probot: Probot;
  appFn: ApplicationFunction;
  /** The App's webhook secret (WEBHOOK_SECRET). */
  secret: string;
  log: Logger;
  maxBytes?: number;
  maxBytesInFlight?: number;
  answerWithinMs?: number;
  bodyWithinMs?: number;
  /** Told what became of each delivery; `event` only once its signature was verified (the metrics). */
  onDelivery?: (event: string | undefined, outcome: 'handled' | 'late' | 'refused' | 'failed' | 'duplicate') => void;
  /**
   * Where delivery ids are remembered (the store, shared by hub replicas): a delivery handled once — by this hub or
   * another replica — is answered 200 "already handled" when it comes again, unless its handling failed; one another
   * replica is handling now is answered 202 and handled here should that replica's claim run out first.
   */
  deliveries?: DeliveryLog;
  /** Tests: the claim on a delivery being handled, and how often a held copy looks again (see DeliveryLog). */
  deliveryClaimMs?: number;
  deliveryRecheckMs?: number;
}

/** What {@link DeliveryLog.take} found: the caller handles it, it was handled, or another is handling it until `until`. */
export type DeliveryClaim = { state: 'taken' } | { state: 'done' } | { state: 'busy'; until: number };

/**
 * Remembers which webhook deliveries were taken, across hub replicas. A delivery being handled is claimed for a
 * while, renewed as long as its handling runs, and marked done when it ends well: a replica that dies while handling
 * one leaves a claim that runs out, and whoever holds another copy of the delivery (GitHub redelivering it, or the
 * same delivery posted to two replicas) then handles it.
 */
export interface DeliveryLog {
  take(id: string, claimMs: number): Promise<DeliveryClaim>;
  /** The handling still runs: the claim is extended. */
  renew(id: string, claimMs: number): Promise<void>;
  /** Handled: a redelivery is answered "already handled". */
  done(id: string): Promise<void>;
  /** Its handling failed: a redelivery is handled again. */
  release(id: string): Promise<void>;
}

/** How long a delivery id is remembered: GitHub redelivers (by hand or by an integrator) within days. */
const DELIVERY_TTL_MS = 3 * 24 * 3600_000;
/** How long a replica's claim on a delivery it handles lasts without renewal (renewed every third of it). */
const DELIVERY_CLAIM_MS = 60_000;
/** How often a replica holding a copy another replica is handling looks whether it ended, and at most for how long. */
const DELIVERY_RECHECK_MS = 5000;
const DELIVERY_WAIT_MS = 15 * 60_000;

interface DeliveryRecord {
  at: string;
  /** Absent on records of earlier releases, which were written once a delivery was taken: done. */
  state?: 'handling' | 'done';
  until?: string;
}

/**
 * A {@link DeliveryLog} in the store: `webhook-delivery:<id>` claimed by an atomic read-modify-write (a row lock on
 * PostgreSQL), kept {@link DELIVERY_TTL_MS}.
 */
export function storeDeliveryLog(store: Store): DeliveryLog {
  const key = (id: string) => `webhook-delivery:${id}`;
  const handling = (claimMs: number): DeliveryRecord => ({ at: new Date().toISOString(), state: 'handling', until: new Date(Date.now() + claimMs).toISOString() });
  return {
    async take(id, claimMs) {
      let claim: DeliveryClaim = { state: 'done' };
      let written: DeliveryRecord | undefined;
      await store.update<DeliveryRecord>(key(id), (current) => {
        const until = current?.state === 'handling' && current.until ? Date.parse(current.until) : 0;
        if (current && current.state !== 'handling') return void (claim = { state: 'done' });
        if (current && until > Date.now()) return void (claim = { state: 'busy', until });
        claim = { state: 'taken' };
        return (written = handling(claimMs));
      });
      if (written) await store.set(key(id), written, DELIVERY_TTL_MS);
      return claim;
    },
    async renew(id, claimMs) {
      await store.set(key(id), handling(claimMs), DELIVERY_TTL_MS);
    },
    async done(id) {
      await store.set(key(id), { at: new Date().toISOString(), state: 'done' } satisfies DeliveryRecord, DELIVERY_TTL_MS);
    },
    async release(id) {
      await store.delete(key(id));
    },
  };
}

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Loads the App into Probot and answers the webhook path (see the file's comment). */
export async function createGitHubWebhookHandler(options: WebhookHandlerOptions): Promise<NodeHandler> {
  const { probot, secret, log } = options;
  await probot.load(options.appFn);
  const limits = { maxBytes: options.maxBytes ?? MAX_WEBHOOK_BYTES, maxBytesInFlight: options.maxBytesInFlight ?? MAX_WEBHOOK_BYTES_IN_FLIGHT };
  const inFlight = { bytes: 0 };
  const answerWithinMs = options.answerWithinMs ?? ANSWER_WITHIN_MS;
  const bodyWithinMs = options.bodyWithinMs ?? BODY_WITHIN_MS;

  const refusedLines = new LogThrottle(REFUSED_LINES_PER_MINUTE, (dropped) => log.warn(`${dropped} more webhook deliveries were refused in the last minute (not logged one by one)`));
  const onDelivery = options.onDelivery ?? (() => undefined);
  const claimMs = options.deliveryClaimMs ?? DELIVERY_CLAIM_MS;
  const recheckMs = options.deliveryRecheckMs ?? DELIVERY_RECHECK_MS;
  const deliveries = options.deliveries;

  /** Hands a delivery to Probot; with a delivery log, its claim is renewed while it runs and it is marked done or given back. */
  const receive = (event: { id: string; name: string }, payload: Record<string, unknown>): Promise<void> => {
    const handled = probot.webhooks.receive({ id: event.id, name: event.name, payload } as Parameters<Probot['webhooks']['receive']>[0]);
    if (!deliveries) return handled;
    const renewal = setInterval(() => void deliveries.renew(event.id, claimMs).catch(() => undefined), Math.max(10, Math.floor(claimMs / 3)));
    renewal.unref();
    void handled.then(
      () => deliveries.done(event.id),
      () => undefined,
    ).catch((err: unknown) => log.warn({ err, delivery: event.id }, 'webhook delivery handled, but recording it as done failed; a redelivery would be handled again'))
      .finally(() => clearInterval(renewal));
    return handled;
  };

  /**
   * A copy of a delivery another replica is handling: looked at again every `recheckMs` until it is done there (then
   * dropped) or that replica's claim ran out (then handled here), for at most DELIVERY_WAIT_MS.
   */
  const standBy = (event: { id: string; name: string }, payload: Record<string, unknown>, delivery: Record<string, string | undefined>) => {
    const giveUpAt = Date.now() + DELIVERY_WAIT_MS;
    const look = async (): Promise<void> => {
      const claim = await deliveries!.take(event.id, claimMs);
      if (claim.state === 'done') return;
      if (claim.state === 'busy') {
        if (Date.now() > giveUpAt) return void log.warn({ ...delivery }, 'webhook delivery still being handled by another replica after 15 minutes: this copy is dropped');
        return void setTimeout(() => void look().catch(failed), Math.min(recheckMs, Math.max(0, claim.until - Date.now()) + 10)).unref();
      }
      log.warn({ ...delivery }, 'webhook delivery: the replica handling it stopped before it was done; handling it here');
      await receive(event, payload).catch(async (err: unknown) => {
        await deliveries!.release(event.id).catch(() => undefined);
        throw err;
      });
    };
    const failed = (err: unknown) => log.error({ err, ...delivery }, 'webhook delivery taken over from a stopped replica, but handling it failed; a redelivery is handled again');
    setTimeout(() => void look().catch(failed), recheckMs).unref();
  };
  return (req, res) => {
    const delivery = describe(req);
    let verified: string | undefined;
    let taken: string | undefined;
    void (async () => {
      const event = checkHeaders(req, limits.maxBytes);
      const body = await readSigned(req, secret, { ...limits, bodyWithinMs }, inFlight);
      verified = event.name;
      const payload = parseJson(body.toString('utf8')) as Record<string, unknown>;
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
        throw new BitEnvoyError('BE_BAD_REQUEST', 'a webhook payload is a JSON object');
      }
      log.debug({ ...delivery, bytes: body.length }, 'webhook delivery received');
      const claim = await options.deliveries?.take(event.id, claimMs);
      if (claim?.state === 'done') {
        onDelivery(verified, 'duplicate');
        log.info({ ...delivery }, 'webhook delivery already handled (a redelivery, or another replica took it): nothing to do');
        return answer(res, 200, { ok: true, note: 'already handled' });
      }
      if (claim?.state === 'busy') {
        onDelivery(verified, 'duplicate');
        log.info({ ...delivery }, 'webhook delivery being handled by another replica: this one handles its copy should that replica stop first');
        standBy(event, payload, delivery);
        return answer(res, 202, { ok: true, note: 'being handled' });
      }
      taken = options.deliveries ? event.id : undefined;
      const handled = receive(event, payload);
      // Probot's error handler has logged a handler's failure with the delivery id: the answer only says so.
      const outcome = await Promise.race([handled.then(() => 'done' as const), sleep(answerWithinMs).then(() => 'late' as const)]);
      if (outcome === 'late') {
        handled.catch(() => undefined);
        onDelivery(verified, 'late');
        return answer(res, 202, { ok: true, note: 'still processing' });
      }
      onDelivery(verified, 'handled');
      answer(res, 200, { ok: true });
    })().catch((err: unknown) => {
      const { status, body } = toErrorEnvelope(err);
      onDelivery(verified, status >= 500 ? 'failed' : 'refused');
      // Handled badly: a redelivery must get another go.
      if (taken) void options.deliveries?.release(taken).catch(() => undefined);
      if (status >= 500 && !(err instanceof BitEnvoyError)) {
        if (!(err instanceof AggregateError)) log.error({ err, ...delivery }, 'webhook handling failed');
        body.error.message = 'handling the webhook failed; the hub log has the details under this delivery id';
      } else {
        // Never the body: it is unverified, or was refused before anything of it was read. Anyone can send these:
        // a flood of them gets a few lines a minute and a count, not a line each.
        if (refusedLines.allow()) log.warn({ ...delivery, status, code: body.error.code }, `webhook delivery refused: ${body.error.message}`);
      }
      cutUnreadBody(req, res);
      const retryAfter = body.error.details?.retryAfterSeconds;
      if (typeof retryAfter === 'number') res.setHeader('retry-after', String(retryAfter));
      answer(res, status, body);
    });
  };
}

/** Who sent what: headers only, each shortened (they are the sender's too). */
function describe(req: IncomingMessage): Record<string, string | undefined> {
  const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string).slice(0, 100) : undefined);
  return { delivery: header('x-github-delivery'), event: header('x-github-event'), address: req.socket.remoteAddress, contentLength: header('content-length') };
}

/** Everything that can be refused before the body is read. */
function checkHeaders(req: IncomingMessage, maxBytes: number): { id: string; name: string } {
  if (req.method !== 'POST') {
    throw new BitEnvoyError('BE_METHOD_NOT_ALLOWED', `${req.method ?? '?'} is not allowed on the webhook path; GitHub delivers with POST`);
  }
  const type = req.headers['content-type'] ?? '';
  if (!/^\s*application\/json\s*(;|$)/i.test(type)) {
    throw new BitEnvoyError('BE_UNSUPPORTED_MEDIA_TYPE', `expected \`content-type: application/json\`, got \`${type.slice(0, 100) || 'none'}\`; set the App's webhook content type to application/json`);
  }
  const missing = ['x-github-event', 'x-hub-signature-256', 'x-github-delivery'].filter((h) => typeof req.headers[h] !== 'string' || !req.headers[h]);
  if (missing.length) throw new BitEnvoyError('BE_BAD_REQUEST', `not a GitHub webhook delivery: the header${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`);
  if (!/^sha256=[0-9a-f]{64}$/i.test(req.headers['x-hub-signature-256'] as string)) {
    throw new BitEnvoyError('BE_SIGNATURE_INVALID', '`x-hub-signature-256` is not of the form `sha256=<64 hex digits>`; GitHub signs every delivery with the App\'s webhook secret');
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  return { id: req.headers['x-github-delivery'] as string, name: req.headers['x-github-event'] as string };
}

/**
 * Streams the body through the HMAC, keeping it only until it is verified. Stops reading (and lets the collected
 * part go) past `maxBytes`, when all deliveries in flight together would pass `maxBytesInFlight`, or when the body
 * has not all arrived within `bodyWithinMs`.
 */
function readSigned(req: IncomingMessage, secret: string, limits: { maxBytes: number; maxBytesInFlight: number; bodyWithinMs: number }, inFlight: { bytes: number }): Promise<Buffer> {
  const expected = Buffer.from((req.headers['x-hub-signature-256'] as string).slice('sha256='.length).toLowerCase(), 'hex');
  const hmac = createHmac('sha256', secret);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const deadline = setTimeout(() => stop(tooSlow(limits.bodyWithinMs)), limits.bodyWithinMs);
    const release = () => {
      clearTimeout(deadline);
      inFlight.bytes -= size;
      chunks.length = 0;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const stop = (err: BitEnvoyError) => {
      release();
      size = 0;
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      if (size + chunk.length > limits.maxBytes) return stop(tooLarge(limits.maxBytes));
      if (inFlight.bytes + chunk.length > limits.maxBytesInFlight) return stop(busy());
      size += chunk.length;
      inFlight.bytes += chunk.length;
      hmac.update(chunk);
      chunks.push(chunk);
    };
    const onEnd = () => {
      const body = Buffer.concat(chunks);
      release();
      size = 0;
      if (!timingSafeEqual(hmac.digest(), expected)) {
        return reject(new BitEnvoyError('BE_SIGNATURE_INVALID', '`x-hub-signature-256` does not match the body; GitHub signs every delivery with the App\'s webhook secret (if this was GitHub, WEBHOOK_SECRET on the hub differs from the App\'s)'));
      }
      resolve(body);
    };
    const onError = (err: Error) => {
      release();
      size = 0;
      reject(new BitEnvoyError('BE_BAD_REQUEST', `the body could not be read: ${err.message}`, { cause: err }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(maxBytes: number): BitEnvoyError {
  return new BitEnvoyError('BE_BODY_TOO_LARGE', `a webhook delivery is at most ${maxBytes} bytes (GitHub caps payloads at 25 MB); this one is larger`);
}

function tooSlow(ms: number): BitEnvoyError {
  return new BitEnvoyError('BE_BAD_REQUEST', `a webhook delivery's body must arrive within ${ms / 1000} s (GitHub sends it at once); this one was still arriving`, { status: 408 });
}

function busy(): BitEnvoyError {
  return new BitEnvoyError('BE_BUSY', 'the hub is reading too many large webhook deliveries at once; redeliver this one in a moment (GitHub: the App\'s Advanced settings)', {
    details: { retryAfterSeconds: 5 },
  });
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Refused deliveries logged one by one per minute; past that, one line says how many more there were. */
const REFUSED_LINES_PER_MINUTE = 20;

/**
 * At most `perMinute` lines a minute; the lines held back are counted and said in one line when the minute ends.
 *
 * @example
 * const lines = new LogThrottle(20, (n) => log.warn(`${n} more refused`));
 * if (lines.allow()) log.warn('refused');
 */
export class LogThrottle {
  #perMinute: number;
  #onDropped: (dropped: number) => void;
  #now: () => number;
  #windowStart = 0;
  #count = 0;
  #dropped = 0;

  constructor(perMinute: number, onDropped: (dropped: number) => void, now: () => number = Date.now) {
    this.#perMinute = perMinute;
    this.#onDropped = onDropped;
    this.#now = now;
  }

  allow(): boolean {
    const now = this.#now();
    if (now - this.#windowStart >= 60_000) {
      if (this.#dropped) this.#onDropped(this.#dropped);
      this.#windowStart = now;
      this.#count = 0;
      this.#dropped = 0;
    }
    if (this.#count < this.#perMinute) {
      this.#count++;
      return true;
    }
    this.#dropped++;
    return false;
  }
}
