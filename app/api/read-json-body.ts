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
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    req.resume();
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BitEnvoyError('BE_BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

function tooLarge(limit: number): BitEnvoyError {
  return new BitEnvoyError('BE_BODY_TOO_LARGE', `the body is larger than ${limit} bytes; send fewer events or log chunks per request`);
}
