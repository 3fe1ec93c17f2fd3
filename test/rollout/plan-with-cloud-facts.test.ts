/**
 * Planning with cloud facts on the real engine: a group selecting on `cloud.*` picks agents by their verified facts,
 * never by labels they reported themselves, and leaves out — saying why — agents whose facts are unknown now.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentFacts } from '../../app/rollout/select-agents.js';
import { DEPLOY, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';

let f: EngineFixture;
beforeEach(async () => {
  f = await openEngineFixture();
  await f.addAgent('ag_a', 'web-1', { role: 'web' });
  await f.addAgent('ag_b', 'web-2', { role: 'web', 'cloud.tag.Env': 'staging' }); // claims it; proved nothing
  await f.addAgent('ag_c', 'web-3', { role: 'web' });
  await f.addAgent('ag_d', 'web-4', { role: 'web' });
});
afterEach(async () => {
  await f.close();
});

describe('planning with cloud facts', () => {
  it('selects by verified facts, ignores self-reported cloud labels, and leaves out unknown ones with the reason', async () => {
    f.groups = { web: { selector: { matchLabels: { role: 'web' }, matchExpressions: [{ key: 'cloud.tag.Env', operator: 'NotIn', values: ['prod'] }] } } };
    const facts = new Map<string, AgentFacts>([
      ['ag_a', { labels: { 'cloud.provider': 'aws', 'cloud.tag.Env': 'staging' } }],
      ['ag_c', { labels: {}, unknown: 'aws/1/eu-west-1 was last listed 20 min ago, past the 15 min limit' }],
      ['ag_d', { labels: { 'cloud.provider': 'aws', 'cloud.tag.Env': 'prod' } }],
    ]);
    let asked: string[] = [];
    const engine = f.engine({
      cloudFacts: async (agents) => {
        asked = agents.map((a) => a.id);
        return facts;
      },
    });
    const dep = await engine.createDeployment(DEPLOY, 'test');
    expect(asked.sort()).toEqual(['ag_a', 'ag_b', 'ag_c', 'ag_d']);
    // web-1: staging (verified). web-2: no proved identity, so no cloud.* at all — NotIn matches an absent key.
    // web-3: unknown — left out even though NotIn would match an absent key. web-4: prod.
    expect(dep.batches.flatMap((b) => b.agentIds).sort()).toEqual(['ag_a', 'ag_b']);
    expect(dep.skipped).toEqual([{ agentId: 'ag_c', name: 'web-3', reason: 'cloud facts unknown: aws/1/eu-west-1 was last listed 20 min ago, past the 15 min limit' }]);
  });

  it('without discovery, self-reported cloud labels select nothing', async () => {
    f.groups = { web: { selector: { matchLabels: { 'cloud.tag.Env': 'staging' } } } };
    const dep = await f.engine().createDeployment(DEPLOY, 'test');
    expect(dep.state).toBe('error');
    expect(dep.description).toMatch(/^no agents in group web: 0 of 4 enrolled agents match cloud\.tag\.Env=staging/);
  });
});
