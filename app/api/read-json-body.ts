import type { IncomingMessage } from 'node:http';
import { BitEnvoyError } from '../../lib/errors.js';

/**
 * How deeply a JSON body may nest objects and arrays. No hub body needs more than a handful of levels; past a few
 * thousand, `JSON.stringify`, `structuredClone` and ajv's error data all overflow the stack, so a deep body is
 * refused here, before anything recursive touches it.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Reads a JSON request body, refusing it as soon as it passes `limit` bytes (413) — never buffering more — and
 * explaining a wrong content type, malformed JSON or nesting deeper than {@link MAX_JSON_DEPTH} (400).
 *
 * @example
 * const body = await readJsonBody(ctx.req, MAX_AGENT_BODY_BYTES);
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new BitEnvoyError('BE_BAD_REQUEST', `expected a JSON body with \`content-type: application/json\`, got \`${type.slice(0, 100) || 'none'}\``);
  }
  return parseJson((await readBody(req, limit)).toString('utf8'));
}

/**
 * Parses JSON text from outside, refusing (400) malformed text and nesting deeper than `maxDepth` before the
 * parser runs.
 *
 * @example
 * parseJson('{"a":[1]}'); // { a: [1] }
 */
export function parseJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  const depth = jsonDepth(text, maxDepth);
  if (depth > maxDepth) {
    throw new BitEnvoyError('BE_BAD_REQUEST', `the body nests objects and arrays more than ${maxDepth} levels deep; no BitEnvoy request needs that many`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BitEnvoyError('BE_BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
}

/**
 * The deepest nesting of `{`/`[` in JSON text, counting only outside strings; stops counting past `stopAt`. One
 * pass, no recursion, no allocation: it is safe on any text.
 */
function jsonDepth(text: string, stopAt: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > deepest && (deepest = depth) > stopAt) return deepest;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return deepest;
}

/**
 * Reads a request body of any type, refusing it with 413 as soon as it passes `limit` bytes (declared or sent).
 * Past the limit nothing more is read: after the 413 the error middleware cuts the connection (cut-unread-body.ts)
 * instead of draining the upload.
 *
 * @example
 * const form = new URLSearchParams((await readBody(ctx.req, 8 * 1024)).toString('utf8'));
 */
export async function readBody(req: IncomingMessage, limit: number, remedy = AGENT_REMEDY): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw tooLarge(limit, remedy);
  return Buffer.concat(await collect(req, limit, remedy));
}

const AGENT_REMEDY = 'send fewer events or log chunks per request';

/**
 * Collects the body with plain listeners rather than `for await`: leaving an async iterator early destroys the
 * request, and with it the socket the 413 answer has to go out on. Past the limit the listeners go, the request is
 * paused and what was collected is let go.
 */
function collect(req: IncomingMessage, limit: number, remedy: string): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      cleanup();
      chunks.length = 0;
      req.pause();
      reject(tooLarge(limit, remedy));
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new BitEnvoyError('BE_BAD_REQUEST', `the body could not be read: ${err.message}`, { cause: err }));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(limit: number, remedy: string): BitEnvoyError {
  return new BitEnvoyError('BE_BODY_TOO_LARGE', `the body is larger than ${limit} bytes; ${remedy}`);
}
