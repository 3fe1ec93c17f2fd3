import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../lib/logger.js';
import { hashSecret } from '../enroll/create-enroll-token.js';
import type { GuessLimiter } from './guess-limiter.js';

/**
 * Whether `candidate` is the hub's admin token. Both sides are hashed first so the comparison takes the same time
 * whatever the candidate's length or content: how long it took tells a guesser nothing.
 *
 * @example
 * if (!isAdminToken(bearer, settings.adminToken)) throw new BitEnvoyError('BE_UNAUTHORIZED', '…');
 */
export function isAdminToken(candidate: string, adminToken: string): boolean {
  return timingSafeEqual(Buffer.from(hashSecret(candidate)), Buffer.from(hashSecret(adminToken)));
}

/**
 * {@link isAdminToken} under a limit of wrong guesses: throws 429 BE_RATE_LIMITED, before looking at the candidate,
 * while `address` (or everyone together) has used up its wrong guesses; counts a wrong one. The sign-in page and
 * the admin API share one `guesses`, as both guess the same token.
 *
 * @example
 * if (!checkAdminToken(token, adminToken, { address: clientAddress(ctx), guesses, log })) throw unauthorized();
 */
export function checkAdminToken(candidate: string, adminToken: string, by: { address: string; guesses: GuessLimiter; log?: Logger }): boolean {
  by.guesses.assertMayTry(by.address);
  const right = isAdminToken(candidate, adminToken);
  if (!right) by.guesses.failed(by.address, by.log);
  return right;
}
