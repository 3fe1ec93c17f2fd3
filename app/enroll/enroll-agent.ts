import { randomBytes } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import type { AgentSettings, EnrollRequest, EnrollResponse, SuggestedAllow } from '../../lib/protocol.js';
import { keys, type AgentRecord, type EnrollTokenRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { CLOUD_LABEL_PREFIX } from '../cloud/cloud-facts.js';
import { hashSecret } from './create-enroll-token.js';

const MAKE_NEW = 'create a new one with `bitenvoy hub token create` on the hub';

/**
 * Enrolls an agent with a one-time token: the token is spent atomically, the agent gets its own credential (only
 * its hash is kept) and its name is reserved. The answer carries `suggestedAllow` (see app/enroll/suggest-allow.ts)
 * when given: what the agent pins in the `agent.yml` it writes.
 *
 * @example
 * const { agentId, credential } = await enrollAgent(store, request, settings, Date.now(), suggestAllow({ configs }));
 */
export async function enrollAgent(store: Store, req: EnrollRequest, settings: AgentSettings, now = Date.now(), suggestedAllow?: SuggestedAllow): Promise<EnrollResponse> {
  // Checked before the token is spent: a rejected request costs nothing.
  const claimed = Object.keys(req.labels).filter((key) => key.startsWith(CLOUD_LABEL_PREFIX));
  if (claimed.length) {
    throw new BitEnvoyError(
      'BE_BAD_REQUEST',
      `labels ${claimed.join(', ')}: \`${CLOUD_LABEL_PREFIX}*\` labels come only from cloud metadata the hub verifies, never from the agent; remove them from --labels`,
    );
  }
  const hash = hashSecret(req.token);
  const agentId = `ag_${randomBytes(8).toString('hex')}`;
  let problem: string | undefined;
  await store.update<EnrollTokenRecord>(keys.enrollToken(hash), (token) => {
    if (!token) problem = 'unknown enrollment token';
    else if (token.usedAt) problem = `enrollment token already used (by ${token.usedBy ?? 'another agent'} at ${token.usedAt})`;
    else if (Date.parse(token.expiresAt) <= now) problem = `enrollment token expired at ${token.expiresAt}`;
    else return { ...token, usedAt: new Date(now).toISOString(), usedBy: req.name };
    return undefined;
  });
  if (problem) throw new BitEnvoyError('BE_ENROLL_TOKEN_INVALID', `${problem}; ${MAKE_NEW}`);

  let taken = false;
  await store.update<string>(keys.agentByName(req.name), (existing) => {
    if (existing) {
      taken = true;
      return undefined;
    }
    return agentId;
  });
  if (taken) {
    // Give the token back: the mistake was the name, not the token.
    await store.update<EnrollTokenRecord>(keys.enrollToken(hash), (t) => (t ? { ...t, usedAt: undefined, usedBy: undefined } : undefined));
    throw new BitEnvoyError('BE_CONFLICT', `an agent named \`${req.name}\` is already enrolled; choose another --name (names are unique per hub)`);
  }
  const credential = `bta_${randomBytes(32).toString('base64url')}`;
  const at = new Date(now).toISOString();
  const agent: AgentRecord = {
    id: agentId,
    name: req.name,
    labels: req.labels,
    version: req.version,
    credentialHash: hashSecret(credential),
    enrolledAt: at,
    lastSeenAt: at,
  };
  await store.set(keys.agent(agentId), agent);
  return { agentId, credential, settings, ...(suggestedAllow ? { suggestedAllow } : {}) };
}
