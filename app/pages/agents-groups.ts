/**
 * Groups and agents, under the config in force: which groups one agent falls in (each group's selector evaluated
 * against that agent alone, with its verified cloud facts — select-agents.ts evaluateSelector), and which agents a
 * group holds now. Labels are not indexed, so the second walks agents in name order and stops after a fixed number
 * of them ({@link SCAN_BUDGET}): a page costs the same with 10 or 10,000 agents, and says when it has not looked at
 * them all yet (its count is then a lower bound, and the agents page continues from where it stopped).
 *
 * @example
 * groupsOfAgent(view, configs.inForce()); // [{ name: 'web', verdict: 'match', … }]
 * const scan = await scanGroups(store, read, { web: selector }, { want: 20, now });
 */
import type { LabelSelector } from '../../config-schema/types.generated.js';
import { CLOUD_LABEL_PREFIX } from '../cloud/cloud-facts.js';
import type { ConfigInForce } from '../config/config-repo.js';
import type { AgentRecord } from '../model.js';
import { describeSelector, evaluateSelector, type Verdict } from '../rollout/select-agents.js';
import { pageOfAgents } from '../store/agent-queries.js';
import type { Store } from '../store/store.js';
import type { AgentView } from './agents-facts.js';

/** Agents looked at, at most, for one page that resolves groups. */
export const SCAN_BUDGET = 1000;
const CHUNK = 200;

export interface AgentGroup {
  /** The config's commit (several in GitHub mode: one per installation owner). */
  sha: string;
  name: string;
  selector: string;
  verdict: Verdict;
  /** Why it can be neither picked nor ruled out now. */
  unknown?: string;
}

/** One agent's verdict for every group of every config in force. */
export function groupsOfAgent(view: AgentView, configs: ConfigInForce[]): AgentGroup[] {
  return configs.flatMap((config) =>
    Object.entries(config.groups).map(([name, group]) => {
      const verdict = verdictOf(view, group.selector);
      return { sha: config.sha, name, selector: describeSelector(group.selector), verdict, ...(verdict === 'unknown' ? { unknown: view.cloud.unknown } : {}) };
    }),
  );
}

export function verdictOf(view: AgentView, selector: LabelSelector): Verdict {
  return evaluateSelector(selector, { ...view.labels, ...view.cloud.labels }, view.cloud.unknown ? CLOUD_LABEL_PREFIX : undefined);
}

export interface GroupScan {
  /** Per group: agents matched among those looked at (up to `want` kept), and how many matched in all. */
  groups: Map<string, { members: AgentView[]; count: number }>;
  scanned: number;
  /** Set when agents remain past the budget: the last name looked at, to continue after. */
  stoppedAfter?: string;
}

/** Walks agents by name after `after`, up to the budget, and sorts them into the groups. */
export async function scanGroups(
  store: Store,
  read: (agents: AgentRecord[], now: number) => Promise<Map<string, AgentView>>,
  selectors: Record<string, LabelSelector>,
  options: { want: number; now: number; after?: string; budget?: number; stopWhenFull?: boolean },
): Promise<GroupScan> {
  const budget = options.budget ?? SCAN_BUDGET;
  const groups = new Map(Object.keys(selectors).map((name) => [name, { members: [] as AgentView[], count: 0 }]));
  let after = options.after;
  let scanned = 0;
  for (;;) {
    const page = await pageOfAgents(store, { limit: Math.min(CHUNK, budget - scanned), ...(after !== undefined ? { after } : {}) });
    const views = await read(page.agents, options.now);
    for (const agent of page.agents) {
      const view = views.get(agent.id)!;
      scanned++;
      for (const [name, selector] of Object.entries(selectors)) {
        if (verdictOf(view, selector) !== 'match') continue;
        const group = groups.get(name)!;
        group.count++;
        if (group.members.length < options.want) group.members.push(view);
      }
      // A page of one group's members ends at its last member: the next page continues after it.
      if (options.stopWhenFull && [...groups.values()].every((g) => g.count >= options.want)) return { groups, scanned, stoppedAfter: agent.name };
    }
    if (!page.next) return { groups, scanned };
    after = page.next;
    if (scanned >= budget) return { groups, scanned, stoppedAfter: after };
  }
}
