/**
 * The id a request is known by in the hub's logs and its `x-request-id` header: the caller's own, when it sent one
 * (cut to 100 characters), else a new one — this process's random prefix and a counter. Ids only correlate log lines
 * (they grant nothing), so they need to be unique, not unguessable; an idle fleet's 200 polls a second get one each
 * without a random UUID apiece.
 *
 * @example
 * res.setHeader('x-request-id', requestIdFrom(req.headers['x-request-id'])); // e.g. 'r5f0c2a91-1k3'
 */
import { randomBytes } from 'node:crypto';

const prefix = `r${randomBytes(4).toString('hex')}-`;
let counter = 0;

export function requestIdFrom(given: string | string[] | undefined): string {
  if (typeof given === 'string' && given) return given.slice(0, 100);
  return prefix + (++counter).toString(36);
}
