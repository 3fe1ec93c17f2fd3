/**
 * Enrolling agents on a real store: each way a token can be wrong, a name taken, and two agents racing for one
 * token or one name — exactly one wins, and nothing is left half-done.
 */
import { agentByCredential } from '../../app/store/agent-queries.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createEnrollToken, hashSecret } from '../../app/enroll/create-enroll-token.js';
import { enrollAgent } from '../../app/enroll/enroll-agent.js';
import { keys, type AgentRecord, type EnrollTokenRecord } from '../../app/model.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import { BitEnvoyError } from '../../lib/errors.js';
import type { EnrollRequest } from '../../lib/protocol.js';

const settings = { pollWaitSeconds: 50, leaseSeconds: 60, heartbeatSeconds: 60 };
let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-enroll-'));
  store = await openStore({ dataDir: dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function request(token: string, name = 'web-1'): EnrollRequest {
  return { token, name, labels: { role: 'web' }, version: '0.1.0' };
}

async function refusal(promise: Promise<unknown>): Promise<BitEnvoyError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(BitEnvoyError);
  return err as BitEnvoyError;
}

it('creates the agent, its credential (hash only) and spends the token', async () => {
  const { token } = await createEnrollToken(store, { createdBy: 'test' });
  const res = await enrollAgent(store, request(token), settings);
  expect(res.agentId).toMatch(/^ag_[0-9a-f]{16}$/);
  expect(res.credential).toMatch(/^bta_[A-Za-z0-9_-]{43}$/);
  expect(res.settings).toEqual(settings);

  const agent = await store.get<AgentRecord>(keys.agent(res.agentId));
  expect(agent).toMatchObject({ id: res.agentId, name: 'web-1', labels: { role: 'web' }, version: '0.1.0', credentialHash: hashSecret(res.credential) });
  expect(JSON.stringify(agent)).not.toContain(res.credential);
  expect((await agentByCredential(store, hashSecret(res.credential)))?.id).toBe(res.agentId);
  expect(await store.get(keys.agentByName('web-1'))).toBe(res.agentId);
  expect(await store.get<EnrollTokenRecord>(keys.enrollToken(hashSecret(token)))).toMatchObject({ usedBy: 'web-1' });
});

it('refuses an unknown, a used and an expired token, saying which and how to get a new one', async () => {
  const unknown = await refusal(enrollAgent(store, request('bte_unknown'), settings));
  expect(unknown.code).toBe('BE_ENROLL_TOKEN_INVALID');
  expect(unknown.message).toBe('unknown enrollment token; create a new one with `bitenvoy hub token create` on the hub');

  const { token } = await createEnrollToken(store, { createdBy: 'test' });
  await enrollAgent(store, request(token, 'first'), settings);
  const used = await refusal(enrollAgent(store, request(token, 'second'), settings));
  expect(used.code).toBe('BE_ENROLL_TOKEN_INVALID');
  expect(used.message).toMatch(/^enrollment token already used \(by first at .+\); create a new one/);

  const fresh = await createEnrollToken(store, { ttlSeconds: 60, createdBy: 'test' });
  const expired = await refusal(enrollAgent(store, request(fresh.token, 'late'), settings, Date.now() + 61_000));
  expect(expired.code).toBe('BE_ENROLL_TOKEN_INVALID');
  expect(expired.message).toBe(`enrollment token expired at ${fresh.expiresAt}; create a new one with \`bitenvoy hub token create\` on the hub`);
  expect(await store.get(keys.agentByName('late'))).toBeUndefined();
});

it('refuses a taken name with 409 and gives the token back', async () => {
  const first = await createEnrollToken(store, { createdBy: 'test' });
  await enrollAgent(store, request(first.token, 'web-1'), settings);
  const second = await createEnrollToken(store, { createdBy: 'test' });
  const taken = await refusal(enrollAgent(store, request(second.token, 'web-1'), settings));
  expect(taken.code).toBe('BE_CONFLICT');
  expect(taken.status).toBe(409);
  expect(taken.message).toMatch(/`web-1` is already enrolled; choose another --name/);
  expect((await store.get<EnrollTokenRecord>(keys.enrollToken(hashSecret(second.token))))?.usedAt).toBeUndefined();
  await expect(enrollAgent(store, request(second.token, 'web-2'), settings)).resolves.toMatchObject({ agentId: expect.any(String) });
});

it('lets exactly one of many agents racing for one token enroll', async () => {
  const { token } = await createEnrollToken(store, { createdBy: 'test' });
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => enrollAgent(store, request(token, `racer-${i}`), settings)));
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  expect((await store.list('agent:')).length).toBe(1);
});

it('lets exactly one of many agents racing for one name enroll', async () => {
  const tokens = await Promise.all(Array.from({ length: 5 }, () => createEnrollToken(store, { createdBy: 'test' })));
  const results = await Promise.allSettled(tokens.map(({ token }) => enrollAgent(store, request(token, 'same'), settings)));
  const won = results.filter((r) => r.status === 'fulfilled');
  expect(won).toHaveLength(1);
  expect(await store.get(keys.agentByName('same'))).toBe((won[0] as PromiseFulfilledResult<{ agentId: string }>).value.agentId);
});

it('refuses cloud.* labels (only verified cloud metadata sets them) without spending the token', async () => {
  const { token } = await createEnrollToken(store, { createdBy: 'test' });
  const claimed = await refusal(enrollAgent(store, { ...request(token), labels: { role: 'web', 'cloud.region': 'eu-west-1', 'cloud.tag.Env': 'prod' } }, settings));
  expect(claimed.code).toBe('BE_BAD_REQUEST');
  expect(claimed.message).toBe('labels cloud.region, cloud.tag.Env: `cloud.*` labels come only from cloud metadata the hub verifies, never from the agent; remove them from --labels');
  expect((await store.get<EnrollTokenRecord>(keys.enrollToken(hashSecret(token))))?.usedAt).toBeUndefined();
});
