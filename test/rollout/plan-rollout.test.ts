import { describe, expect, it } from 'vitest';
import { planRollout, rolloutPolicy } from '../../app/rollout/plan-rollout.js';
import type { Strategy } from '../../config-schema/types.generated.js';

const agents = (...names: string[]) => names.map((name, i) => ({ id: `ag_${i}_${name}`, name }));
const ALL: Strategy = { type: 'all-at-once' };
const ONE: Strategy = { type: 'one-at-a-time' };

describe('planRollout', () => {
  it.each([
    { title: 'no agents: no batches', strategy: ALL, names: [], batches: [] },
    { title: 'no agents, one at a time: no batches', strategy: ONE, names: [], batches: [] },
    { title: 'all-at-once: one batch in name order', strategy: ALL, names: ['web-3', 'web-1', 'web-2'], batches: [['web-1', 'web-2', 'web-3']] },
    { title: 'all-at-once, one agent', strategy: ALL, names: ['db'], batches: [['db']] },
    { title: 'one-at-a-time: one batch per agent, by name', strategy: ONE, names: ['web-b', 'web-a', 'web-c'], batches: [['web-a'], ['web-b'], ['web-c']] },
    { title: 'names with numbers sort as numbers', strategy: ONE, names: ['web-10', 'web-2', 'web-1'], batches: [['web-1'], ['web-2'], ['web-10']] },
    { title: 'case does not split the order', strategy: ONE, names: ['Web-b', 'web-a'], batches: [['web-a'], ['Web-b']] },
  ])('$title', ({ strategy, names, batches }) => {
    const given = agents(...names);
    const plan = planRollout(strategy, given);
    const nameOf = new Map(given.map((a) => [a.id, a.name]));
    expect(plan.map((b) => b.agentIds.map((id) => nameOf.get(id)))).toEqual(batches);
  });

  it('breaks a tie between equal names by id, so the plan never depends on input order', () => {
    const a = { id: 'ag_a', name: 'web' };
    const b = { id: 'ag_b', name: 'web' };
    expect(planRollout(ONE, [b, a])).toEqual(planRollout(ONE, [a, b]));
    expect(planRollout(ONE, [b, a])).toEqual([{ agentIds: ['ag_a'] }, { agentIds: ['ag_b'] }]);
  });

  it('does not reorder the caller’s array', () => {
    const given = agents('b', 'a');
    planRollout(ALL, given);
    expect(given.map((a) => a.name)).toEqual(['b', 'a']);
  });
});

describe('planRollout: rolling, canary, ordered, pauses', () => {
  const ten = agents(...Array.from({ length: 10 }, (_, i) => `web-${i + 1}`));
  const names = (strategy: Strategy, given = ten) => {
    const nameOf = new Map(given.map((a) => [a.id, a.name]));
    return planRollout(strategy, given).map((b) => [b.agentIds.map((id) => nameOf.get(id)).join(','), b.pauseAfter ?? '-']);
  };

  it.each<[string, Strategy, Array<[string, number | string]>]>([
    ['rolling by count', { type: 'rolling', batchSize: 4 }, [['web-1,web-2,web-3,web-4', '-'], ['web-5,web-6,web-7,web-8', '-'], ['web-9,web-10', '-']]],
    ['rolling by percentage, rounded up', { type: 'rolling', batchSize: '25%' }, [['web-1,web-2,web-3', '-'], ['web-4,web-5,web-6', '-'], ['web-7,web-8,web-9', '-'], ['web-10', '-']]],
    ['rolling without a size: one batch', { type: 'rolling' }, [['web-1,web-2,web-3,web-4,web-5,web-6,web-7,web-8,web-9,web-10', '-']]],
    ['rolling with a pause between batches, none after the last', { type: 'rolling', batchSize: '50%', pause: '2m' }, [['web-1,web-2,web-3,web-4,web-5', 120_000], ['web-6,web-7,web-8,web-9,web-10', '-']]],
    ['canary, manual gate, then the rest in batches', { type: 'canary', canary: { size: 1, pause: 'manual' }, batchSize: 5 }, [['web-1', 'manual'], ['web-2,web-3,web-4,web-5,web-6', '-'], ['web-7,web-8,web-9,web-10', '-']]],
    ['canary of 20% with its own pause and another between the rest', { type: 'canary', canary: { size: '20%', pause: '10m' }, batchSize: 4, pause: '1m' }, [['web-1,web-2', 600_000], ['web-3,web-4,web-5,web-6', 60_000], ['web-7,web-8,web-9,web-10', '-']]],
    ['one-at-a-time with a pause', { type: 'one-at-a-time', pause: '30s' }, [['web-1', 30_000], ['web-2', 30_000], ['web-3', 30_000], ['web-4', 30_000], ['web-5', 30_000], ['web-6', 30_000], ['web-7', 30_000], ['web-8', 30_000], ['web-9', 30_000], ['web-10', '-']]],
  ])('%s', (_title, strategy, expected) => {
    expect(names(strategy)).toEqual(expected);
  });

  it('ordered: each stage in turn, in batches, and the servers no stage selects last', () => {
    const given = [
      { id: 'ag_1', name: 'us-1', labels: { region: 'us' } },
      { id: 'ag_2', name: 'eu-1', labels: { region: 'eu' } },
      { id: 'ag_3', name: 'eu-2', labels: { region: 'eu' } },
      { id: 'ag_4', name: 'ap-1', labels: { region: 'ap' } },
      { id: 'ag_5', name: 'eu-3', labels: { region: 'eu' } },
    ];
    const strategy: Strategy = { type: 'ordered', stages: [{ matchLabels: { region: 'eu' } }, { matchLabels: { region: 'us' } }, { matchLabels: { region: 'sa' } }], batchSize: 2 };
    expect(names(strategy, given)).toEqual([['eu-1,eu-2', '-'], ['eu-3', '-'], ['us-1', '-'], ['ap-1', '-']]);
  });
});

describe('rolloutPolicy', () => {
  it.each<[string, Strategy, number, { maxFailures: number; timeoutMs?: number }]>([
    ['stops at the first failure by default', { type: 'rolling' }, 40, { maxFailures: 0 }],
    ['maxFailures as a count', { type: 'rolling', maxFailures: 3 }, 40, { maxFailures: 3 }],
    ['maxFailures as a percentage, rounded down', { type: 'rolling', maxFailures: '10%' }, 25, { maxFailures: 2 }],
    ["minHealthy as a percentage (CodeDeploy's rule)", { type: 'rolling', minHealthy: '90%' }, 40, { maxFailures: 4 }],
    ['minHealthy larger than the servers allows nothing', { type: 'rolling', minHealthy: 50 }, 40, { maxFailures: 0 }],
    ['a timeout', { type: 'canary', canary: { size: 1 }, timeout: '30m' }, 5, { maxFailures: 0, timeoutMs: 1_800_000 }],
  ])('%s', (_title, strategy, servers, policy) => {
    expect(rolloutPolicy(strategy, servers)).toEqual(policy);
  });
});
