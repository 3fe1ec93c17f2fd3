import type { Strategy } from '../../config-schema/types.generated.js';
import type { PlannedBatch } from '../model.js';

/**
 * Orders a rollout's servers into batches. `all-at-once`: one batch; `one-at-a-time`: one server per batch. Agents
 * are taken in name order so a plan is the same every time for the same servers.
 *
 * @example
 * planRollout({ type: 'one-at-a-time' }, agents); // [{ agentIds: ['ag_a'] }, { agentIds: ['ag_b'] }]
 */
export function planRollout(strategy: Strategy, agents: Array<{ id: string; name: string }>): PlannedBatch[] {
  const ordered = [...agents].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  if (ordered.length === 0) return [];
  switch (strategy.type) {
    case 'all-at-once':
      return [{ agentIds: ordered.map((a) => a.id) }];
    case 'one-at-a-time':
      return ordered.map((a) => ({ agentIds: [a.id] }));
  }
}
