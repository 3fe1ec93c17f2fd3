import type { IncomingMessage } from 'node:http';
import { BitEnvoyError } from '../../lib/errors.js';
import { readBody } from '../api/read-json-body.js';

/** The pages' forms carry a token or two and a path: 8 KiB is plenty, and bounds what an anonymous sender costs. */
export const MAX_FORM_BYTES = 8 * 1024;

/**
 * Reads an HTML form post (`application/x-www-form-urlencoded`), refusing another content type (400) or a body past
 * `limit` bytes (413, without reading further: see {@link readBody}).
 *
 * @example
 * const form = await readFormBody(ctx.req);
 * const token = form.get('token') ?? '';
 */
export async function readFormBody(req: IncomingMessage, limit = MAX_FORM_BYTES): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new BitEnvoyError('BE_BAD_REQUEST', `expected a form post with \`content-type: application/x-www-form-urlencoded\`, got \`${type.slice(0, 100) || 'none'}\`; use the buttons on the status page`);
  }
  return new URLSearchParams((await readBody(req, limit, 'use the buttons on the status page: their forms carry only a token and a path')).toString('utf8'));
}
