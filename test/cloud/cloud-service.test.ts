/**
 * The hub's cloud service on a real store: a quarantined agent's cloud facts are unknown (so `NotIn` and
 * `DoesNotExist` cannot pick it), and evidence from a provider the hub has no trust for is refused, saying what to set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloudService } from '../../app/cloud/cloud-service.js';
import { IdentityBindings } from '../../app/cloud/identity-bindings.js';
import type { AgentRecord } from '../../app/model.js';
import { selectWithFacts } from '../../app/rollout/select-agents.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import { silentLogger } from '../../lib/logger.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-cloud-service-'));
  store = await openStore({ dataDir: dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const agent = (id: string, name: string): AgentRecord => ({ id, name, labels: { role: 'web' }, version: 't', credentialHash: id, enrolledAt: '', lastSeenAt: '' });
const proved = (instanceId: string) => ({ provider: 'aws' as const, account: '123456789012', instanceId, region: 'eu-west-1', issuedAt: '2026-11-25T11:00:00.000Z' });

describe('CloudService', () => {
  it('makes a quarantined agent’s facts unknown, never absent', async () => {
    const bindings = new IdentityBindings(store);
    await bindings.bind('ag_1', proved('i-0aaa'), { agentName: 'web-1' });
    await bindings.bind('ag_1', proved('i-0bbb'), { agentName: 'web-1' });
    const cloud = await CloudService.start({ settings: { refreshMs: 60_000, staleAfterMs: 60_000, planWaitMs: 0, trust: {} }, store, log: silentLogger() });
    const agents = [agent('ag_1', 'web-1'), agent('ag_2', 'web-2')];
    const facts = await cloud.facts(agents);
    expect(facts.get('ag_1')).toEqual({ labels: {}, unknown: expect.stringMatching(/^quarantined since .*: agent web-1 \(ag_1\) is bound to aws\/123456789012\/i-0aaa but proved aws\/123456789012\/i-0bbb/) });
    expect(facts.get('ag_2')).toEqual({ labels: {} });
    const picked = selectWithFacts({ matchExpressions: [{ key: 'cloud.tag.Env', operator: 'NotIn', values: ['prod'] }] }, agents, facts, 'cloud.');
    expect(picked.selected.map((a) => a.name)).toEqual(['web-2']);
    expect(picked.unknown.map((u) => u.agent.name)).toEqual(['web-1']);
    cloud.stop();
  });

  it('refuses evidence from a provider it has no trust for, naming the variable to set', async () => {
    const cloud = await CloudService.start({ settings: { refreshMs: 60_000, staleAfterMs: 60_000, planWaitMs: 0, trust: {} }, store, log: silentLogger() });
    await expect(cloud.nonce(agent('ag_1', 'web-1'), 'gcp')).rejects.toMatchObject({ code: 'BE_CLOUD_NOT_CONFIGURED', message: expect.stringContaining('set BITENVOY_GCP_JWKS') });
    await expect(cloud.attest(agent('ag_1', 'web-1'), { provider: 'aws', document: '{}', signature: 'x' })).rejects.toMatchObject({ code: 'BE_CLOUD_NOT_CONFIGURED', message: expect.stringContaining('BITENVOY_AWS_IDENTITY_CERTS') });
    cloud.stop();
  });
});
