import { describe, expect, it } from 'vitest';
import type { LabelSelector } from '../../config-schema/types.generated.js';
import { describeSelector, evaluateSelector, matchesSelector, selectAgents, selectWithFacts, type AgentFacts } from '../../app/rollout/select-agents.js';
import { planRollout } from '../../app/rollout/plan-rollout.js';

const web = { role: 'web', region: 'eu' };
const bare = {};
const db = { role: 'db', region: 'us' };

describe('matchesSelector', () => {
  it.each<[string, LabelSelector, Record<string, string>, boolean]>([
    ['empty selector matches everything', {}, bare, true],
    ['matchLabels equal', { matchLabels: { role: 'web' } }, web, true],
    ['matchLabels different value', { matchLabels: { role: 'web' } }, db, false],
    ['matchLabels key missing', { matchLabels: { role: 'web' } }, bare, false],
    ['In with listed value', { matchExpressions: [{ key: 'region', operator: 'In', values: ['eu', 'ap'] }] }, web, true],
    ['In with unlisted value', { matchExpressions: [{ key: 'region', operator: 'In', values: ['ap'] }] }, web, false],
    ['In with key missing', { matchExpressions: [{ key: 'region', operator: 'In', values: ['eu'] }] }, bare, false],
    ['NotIn with listed value', { matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['db'] }] }, db, false],
    ['NotIn with unlisted value', { matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['db'] }] }, web, true],
    ['NotIn with key missing matches', { matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['db'] }] }, bare, true],
    ['Exists', { matchExpressions: [{ key: 'region', operator: 'Exists' }] }, web, true],
    ['Exists, key missing', { matchExpressions: [{ key: 'region', operator: 'Exists' }] }, bare, false],
    ['DoesNotExist', { matchExpressions: [{ key: 'region', operator: 'DoesNotExist' }] }, bare, true],
    ['DoesNotExist, key present', { matchExpressions: [{ key: 'region', operator: 'DoesNotExist' }] }, web, false],
    ['labels and expressions are ANDed', { matchLabels: { role: 'web' }, matchExpressions: [{ key: 'region', operator: 'In', values: ['us'] }] }, web, false],
    ['a value equal to another key does not match', { matchLabels: { eu: 'region' } }, web, false],
  ])('%s', (_name, selector, labels, expected) => {
    expect(matchesSelector(selector, labels)).toBe(expected);
  });

  it('selectAgents keeps order and filters', () => {
    const agents = [{ name: 'a', labels: web }, { name: 'b', labels: db }, { name: 'c', labels: web }];
    expect(selectAgents({ matchLabels: { role: 'web' } }, agents).map((a) => a.name)).toEqual(['a', 'c']);
  });

  it('describes a selector for people', () => {
    expect(describeSelector({ matchLabels: { role: 'web' }, matchExpressions: [{ key: 'region', operator: 'In', values: ['eu', 'us'] }, { key: 'gpu', operator: 'DoesNotExist' }] })).toBe(
      'role=web, region in (eu,us), !gpu',
    );
  });
});

describe('planRollout', () => {
  const agents = [{ id: 'ag_2', name: 'web-2' }, { id: 'ag_1', name: 'web-1' }, { id: 'ag_3', name: 'web-3' }];
  it.each([
    ['all-at-once', [['ag_1', 'ag_2', 'ag_3']]],
    ['one-at-a-time', [['ag_1'], ['ag_2'], ['ag_3']]],
  ] as const)('%s', (type, batches) => {
    expect(planRollout({ type }, agents).map((b) => b.agentIds)).toEqual(batches);
  });
  it('plans nothing for no agents', () => {
    expect(planRollout({ type: 'all-at-once' }, [])).toEqual([]);
  });
});

describe('evaluateSelector with unknown cloud facts', () => {
  const known = { role: 'web', 'cloud.tag.Env': 'staging' };
  it.each<[string, LabelSelector, Record<string, string>, string | undefined, string]>([
    ['known cloud facts match like labels', { matchExpressions: [{ key: 'cloud.tag.Env', operator: 'In', values: ['staging'] }] }, known, undefined, 'match'],
    ['known, not matching', { matchExpressions: [{ key: 'cloud.tag.Env', operator: 'In', values: ['prod'] }] }, known, undefined, 'no match'],
    ['In on an unknown key', { matchExpressions: [{ key: 'cloud.tag.Env', operator: 'In', values: ['staging'] }] }, { role: 'web' }, 'cloud.', 'unknown'],
    ['NotIn on an unknown key does not widen', { matchExpressions: [{ key: 'cloud.tag.Env', operator: 'NotIn', values: ['prod'] }] }, { role: 'web' }, 'cloud.', 'unknown'],
    ['DoesNotExist on an unknown key does not widen', { matchExpressions: [{ key: 'cloud.region', operator: 'DoesNotExist' }] }, {}, 'cloud.', 'unknown'],
    ['matchLabels on an unknown key', { matchLabels: { 'cloud.region': 'eu-west-1' } }, {}, 'cloud.', 'unknown'],
    ['a failing known requirement decides: no match', { matchLabels: { role: 'db' }, matchExpressions: [{ key: 'cloud.region', operator: 'Exists' }] }, { role: 'web' }, 'cloud.', 'no match'],
    ['no cloud requirement: unknown facts do not matter', { matchLabels: { role: 'web' } }, { role: 'web' }, 'cloud.', 'match'],
    ['absent (not unknown) cloud keys behave like labels', { matchExpressions: [{ key: 'cloud.provider', operator: 'DoesNotExist' }] }, { role: 'web' }, undefined, 'match'],
  ])('%s', (_name, selector, labels, unknownPrefix, expected) => {
    expect(evaluateSelector(selector, labels, unknownPrefix)).toBe(expected);
  });

  it('selectWithFacts ignores self-reported cloud labels and says why it leaves an agent out', () => {
    const agents: Array<{ id: string; name: string; labels: Record<string, string> }> = [
      { id: 'a', name: 'web-1', labels: { role: 'web', 'cloud.tag.Env': 'staging' } },
      { id: 'b', name: 'web-2', labels: { role: 'web' } },
      { id: 'c', name: 'web-3', labels: { role: 'web' } },
    ];
    const facts = new Map<string, AgentFacts>([
      ['b', { labels: { 'cloud.tag.Env': 'staging' } }],
      ['c', { labels: {}, unknown: 'aws/1/eu-west-1 was last listed 20 min ago, past the 15 min limit' }],
    ]);
    const picked = selectWithFacts({ matchExpressions: [{ key: 'cloud.tag.Env', operator: 'In', values: ['staging'] }] }, agents, facts, 'cloud.');
    expect(picked.selected.map((a) => a.name)).toEqual(['web-2']);
    expect(picked.unknown.map((u) => [u.agent.name, u.reason])).toEqual([['web-3', 'cloud facts unknown: aws/1/eu-west-1 was last listed 20 min ago, past the 15 min limit']]);
  });
});
