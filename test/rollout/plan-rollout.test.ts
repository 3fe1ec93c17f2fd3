import { describe, expect, it } from 'vitest';
import { planRollout } from '../../app/rollout/plan-rollout.js';
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
