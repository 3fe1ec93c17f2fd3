import type { LabelSelector, LabelSelectorRequirement } from '../../config-schema/types.generated.js';
import type { Labels } from '../../lib/protocol.js';

/**
 * Kubernetes label-selector semantics: `matchLabels` and every expression must all hold; an empty selector matches
 * everything. `NotIn` and `DoesNotExist` match an agent that lacks the key.
 *
 * @example
 * matchesSelector({ matchLabels: { role: 'web' } }, { role: 'web', region: 'eu' }); // true
 */
export function matchesSelector(selector: LabelSelector, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((req) => matchesRequirement(req, labels));
}

function matchesRequirement(req: LabelSelectorRequirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return has && values.includes(labels[req.key]!);
    case 'NotIn':
      return !has || !values.includes(labels[req.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

/** The agents a selector picks, in the order given. */
export function selectAgents<A extends { labels: Labels }>(selector: LabelSelector, agents: A[]): A[] {
  return agents.filter((a) => matchesSelector(selector, a.labels));
}

/** A selector's verdict when some of an agent's facts may be unknown right now. */
export type Verdict = 'match' | 'no match' | 'unknown';

/**
 * Three-valued selection: a requirement on a key under `unknownPrefix` (e.g. `cloud.` while the agent's cloud facts
 * are stale) is unknown, whatever its operator — `NotIn` and `DoesNotExist` included, so an outage never widens a
 * group. The requirements are ANDed: any failing one makes `no match`; otherwise any unknown one makes `unknown`.
 *
 * @example
 * evaluateSelector({ matchExpressions: [{ key: 'cloud.tag.Env', operator: 'NotIn', values: ['prod'] }] }, {}, 'cloud.'); // 'unknown'
 */
export function evaluateSelector(selector: LabelSelector, labels: Labels, unknownPrefix?: string): Verdict {
  const requirements: LabelSelectorRequirement[] = [
    ...Object.entries(selector.matchLabels ?? {}).map(([key, value]): LabelSelectorRequirement => ({ key, operator: 'In', values: [value] })),
    ...(selector.matchExpressions ?? []),
  ];
  let unknown = false;
  for (const req of requirements) {
    if (unknownPrefix !== undefined && req.key.startsWith(unknownPrefix)) unknown = true;
    else if (!matchesRequirement(req, labels)) return 'no match';
  }
  return unknown ? 'unknown' : 'match';
}

/** What an agent is known by: its own labels without any `cloud.*` (never self-reported), plus its verified cloud facts. */
export interface AgentFacts {
  labels: Labels;
  /** Why its `cloud.*` facts are unknown now, if they are. */
  unknown?: string;
}

/**
 * The agents a selector picks with their cloud facts joined, and those it can neither pick nor rule out now (with
 * why). An agent without facts has no `cloud.*` labels at all.
 */
export function selectWithFacts<A extends { id: string; labels: Labels }>(
  selector: LabelSelector,
  agents: A[],
  facts: ReadonlyMap<string, AgentFacts>,
  cloudPrefix: string,
): { selected: A[]; unknown: Array<{ agent: A; reason: string }> } {
  const selected: A[] = [];
  const unknown: Array<{ agent: A; reason: string }> = [];
  for (const agent of agents) {
    const own = Object.fromEntries(Object.entries(agent.labels).filter(([key]) => !key.startsWith(cloudPrefix)));
    const known = facts.get(agent.id);
    const verdict = evaluateSelector(selector, { ...own, ...known?.labels }, known?.unknown ? cloudPrefix : undefined);
    if (verdict === 'match') selected.push(agent);
    else if (verdict === 'unknown') unknown.push({ agent, reason: `cloud facts unknown: ${known!.unknown}` });
  }
  return { selected, unknown };
}

/** A selector written as a short human string, e.g. `role=web, region in (eu,us)`. */
export function describeSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions ?? []) {
    if (r.operator === 'Exists') parts.push(r.key);
    else if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
    else parts.push(`${r.key} ${r.operator === 'In' ? 'in' : 'notin'} (${(r.values ?? []).join(',')})`);
  }
  return parts.join(', ') || 'every agent';
}
