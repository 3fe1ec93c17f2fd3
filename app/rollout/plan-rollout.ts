import type { Strategy } from '../../config-schema/types.generated.js';
import type { PlannedBatch } from '../model.js';

/** One collation for every hub, whatever its locale; numeric, so `web-2` comes before `web-10`. */
const byName = new Intl.Collator('en', { numeric: true });

/**
 * Orders a rollout's servers into batches. `all-at-once`: one batch; `one-at-a-time`: one server per batch. Agents
 * are taken in name order (then id) so a plan is the same every time for the same servers.
 *
 * @example
 * planRollout({ type: 'one-at-a-time' }, agents); // [{ agentIds: ['ag_a'] }, { agentIds: ['ag_b'] }]
 */
export function planRollout(strategy: Strategy, agents: Array<{ id: string; name: string }>): PlannedBatch[] {
  const ordered = [...agents].sort((a, b) => byName.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (ordered.length === 0) return [];
  switch (strategy.type) {
    case 'all-at-once':
      return [{ agentIds: ordered.map((a) => a.id) }];
    case 'one-at-a-time':
      return ordered.map((a) => ({ agentIds: [a.id] }));
  }
}
