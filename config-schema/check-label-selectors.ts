/**
 * What the groups schema cannot say about label selectors, checked after it: `In`/`NotIn` need at least one value
 * (an empty list would silently select nothing, or everything), and `Exists`/`DoesNotExist` take none. Kubernetes
 * refuses the same selectors.
 *
 * @example
 * checkLabelSelectors(groupsFile, text, 'groups.yml'); // [] when every selector is well-formed
 */
import type { GroupsFile } from './types.generated.js';
import type { ConfigIssue } from './validate-yaml-file.js';
import { dottedPath, positionOf } from './yaml-position.js';

export function checkLabelSelectors(groups: GroupsFile, text: string, file: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [name, group] of Object.entries(groups.groups)) {
    (group.selector.matchExpressions ?? []).forEach((req, index) => {
      const segments = ['groups', name, 'selector', 'matchExpressions', String(index)];
      const needsValues = req.operator === 'In' || req.operator === 'NotIn';
      if (needsValues && !req.values?.length) {
        issues.push({
          file,
          path: dottedPath(segments),
          ...positionOf(text, [...segments, 'values']),
          message: `\`${dottedPath(segments)}\`: operator \`${req.operator}\` needs at least one value in \`values\``,
          hint: `list the values, e.g. \`values: [web]\`, or use \`${req.operator === 'In' ? 'Exists' : 'DoesNotExist'}\` to test only for the key`,
        });
      } else if (!needsValues && req.values !== undefined) {
        issues.push({
          file,
          path: dottedPath(segments),
          ...positionOf(text, [...segments, 'values']),
          message: `\`${dottedPath(segments)}\`: operator \`${req.operator}\` takes no \`values\``,
          hint: `remove \`values\`, or use \`${req.operator === 'Exists' ? 'In' : 'NotIn'}\` to compare the value`,
        });
      }
    });
  }
  return issues;
}
