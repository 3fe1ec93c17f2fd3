import type { IncomingMessage } from 'node:http';
import { BitEnvoyError } from '../../lib/errors.js';

/**
 * Reads a JSON request body, refusing it as soon as it passes `limit` bytes (413) — never buffering more — and
 * explaining a wrong content type or malformed JSON (400).
 *
 * @example
 * const body = await readJsonBody(ctx.req, MAX_AGENT_BODY_BYTES);
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    req.resume();
    throw new BitEnvoyError('BE_BAD_REQUEST', `expected a JSON body with \`content-type: application/json\`, got \`${type || 'none'}\``);
  }
  const text = (await readBody(req, limit)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BitEnvoyError('BE_BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Reads a request body of any type, refusing it with 413 as soon as it passes `limit` bytes (declared or sent).
 *
 * @example
 * const form = new URLSearchParams((await readBody(ctx.req, 8 * 1024)).toString('utf8'));
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    req.resume();
    throw tooLarge(limit);
  }
  return Buffer.concat(await collect(req, limit));
}

/**
 * Collects the body with plain listeners rather than `for await`: leaving an async iterator early destroys the
 * request, and with it the socket the 413 answer has to go out on. Past the limit the rest is drained unread (the
 * server's `requestTimeout` bounds a sender that never stops).
 */
function collect(req: IncomingMessage, limit: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      cleanup();
      chunks.length = 0;
      req.resume();
      reject(tooLarge(limit));
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

function tooLarge(limit: number): BitEnvoyError {
  return new BitEnvoyError('BE_BODY_TOO_LARGE', `the body is larger than ${limit} bytes; send fewer events or log chunks per request`);
}
