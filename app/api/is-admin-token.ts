import { timingSafeEqual } from 'node:crypto';
import { hashSecret } from '../enroll/create-enroll-token.js';

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
