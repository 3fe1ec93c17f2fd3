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
