/**
 * Named local operators: in local mode (no GitHub to say who someone is) the admin token is one shared identity, so
 * `bitenvoy hub user create NAME` makes a name and a one-time sign-in link for it, and what NAME then does on the
 * status pages is audited as NAME. The link's token is random, kept only as its sha256, single use and expires (24 h).
 * Removing an operator ends their sessions at once: a session names the operator's record id, and a record removed
 * (or removed and made again) no longer matches it — no listing of sessions needed.
 *
 * @example
 * const { token, expiresAt } = await createOperator(store, 'alice', { createdBy: 'api' });
 * const link = `${publicUrl}/login/link?token=${token}`;
 * const who = await redeemSignInLink(store, token); // → { login: 'alice', operatorId: 'op_…' }, once
 */
import { randomBytes } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import { hashSecret } from '../enroll/create-enroll-token.js';
import { keys } from '../model.js';
import type { Store } from '../store/store.js';

/** How long a sign-in link may wait to be used. */
export const SIGN_IN_LINK_TTL_MS = 24 * 3600_000;

/** A name as people write it in the audit log: like a GitHub login. */
const OPERATOR_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,38})$/;

/** Operators are people: a handful. A cap keeps `list` a small read whatever an admin script does. */
export const MAX_OPERATORS = 500;

export interface OperatorRecord {
  id: string;
  name: string;
  createdAt: string;
  createdBy: string;
}

interface SignInLinkRecord {
  operatorId: string;
  name: string;
  expiresAt: string;
}

export function checkOperatorName(name: string): string {
  if (!OPERATOR_NAME.test(name) || name === 'admin' || name === 'dashboard') {
    throw new BitEnvoyError(
      'BE_USAGE',
      `operator name \`${name.slice(0, 60)}\`: expected 1–39 letters, digits, \`.\`, \`-\` or \`_\`, starting with a letter or digit (not \`admin\` or \`dashboard\`, which the audit log uses), e.g. \`alice\``,
    );
  }
  return name;
}

/**
 * Makes operator `name` (or keeps the existing one) and a new one-time sign-in link token for them. A second
 * `create` of a name is how a lost or expired link is replaced; earlier links stay valid until used or expired.
 */
export async function createOperator(store: Store, name: string, options: { createdBy: string; now?: number; ttlMs?: number }): Promise<{ operator: OperatorRecord; token: string; expiresAt: string; existed: boolean }> {
  checkOperatorName(name);
  const now = options.now ?? Date.now();
  let existed = false;
  if (!(await store.get<OperatorRecord>(keys.operator(name))) && (await store.list<OperatorRecord>(keys.operatorPrefix)).length >= MAX_OPERATORS) {
    throw new BitEnvoyError('BE_CONFLICT', `there are ${MAX_OPERATORS} operators already; remove some with \`bitenvoy hub user remove NAME\``);
  }
  const operator = (await store.update<OperatorRecord>(keys.operator(name), (current) => {
    if (current) {
      existed = true;
      return undefined;
    }
    return { id: `op_${randomBytes(8).toString('hex')}`, name, createdAt: new Date(now).toISOString(), createdBy: options.createdBy };
  }))!;
  const token = `bto_${randomBytes(32).toString('base64url')}`;
  const ttlMs = options.ttlMs ?? SIGN_IN_LINK_TTL_MS;
  const link: SignInLinkRecord = { operatorId: operator.id, name, expiresAt: new Date(now + ttlMs).toISOString() };
  // Kept a day past expiry, so a late click is told "expired" rather than "unknown"; then the store drops it.
  await store.set(keys.operatorLink(hashSecret(token)), link, ttlMs + SIGN_IN_LINK_TTL_MS);
  return { operator, token, expiresAt: link.expiresAt, existed };
}

/** Every operator, by name. */
export async function listOperators(store: Store): Promise<OperatorRecord[]> {
  return (await store.list<OperatorRecord>(keys.operatorPrefix)).map((e) => e.value);
}

/** Removes operator `name`; their sessions end at their next request. False when there was none. */
export async function removeOperator(store: Store, name: string): Promise<boolean> {
  return store.delete(keys.operator(checkOperatorName(name)));
}

export async function operatorExists(store: Store, name: string, operatorId: string): Promise<boolean> {
  return (await store.get<OperatorRecord>(keys.operator(name)))?.id === operatorId;
}

/**
 * Spends a sign-in link's token: who it signs in, once. BE_UNAUTHORIZED with the reason (unknown, used, expired,
 * operator removed) and what to do otherwise.
 */
export async function redeemSignInLink(store: Store, token: string, now = Date.now()): Promise<{ login: string; operatorId: string }> {
  const fix = 'ask the hub\'s admin for a new link (`bitenvoy hub user create NAME` prints one)';
  if (!/^bto_[A-Za-z0-9_-]{43}$/.test(token)) throw new BitEnvoyError('BE_UNAUTHORIZED', `this is not a sign-in link of this hub; ${fix}`);
  const key = keys.operatorLink(hashSecret(token));
  const link = await store.get<SignInLinkRecord>(key);
  // Spent by deleting it: of two clicks at once, only one delete finds the record (on either store backend).
  if (!link || !(await store.delete(key))) throw new BitEnvoyError('BE_UNAUTHORIZED', `this sign-in link is unknown to this hub, or was used already (each link signs in once); ${fix}`);
  if (Date.parse(link.expiresAt) <= now) throw new BitEnvoyError('BE_UNAUTHORIZED', `this sign-in link expired at ${link.expiresAt}; ${fix}`);
  const used = link;
  if (!(await operatorExists(store, used.name, used.operatorId))) {
    throw new BitEnvoyError('BE_UNAUTHORIZED', `operator ${used.name} was removed after this link was made; ${fix}`);
  }
  return { login: used.name, operatorId: used.operatorId };
}
