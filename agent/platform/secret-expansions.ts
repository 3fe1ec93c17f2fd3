/**
 * How a secret reference is written in each shell so that the step gets the value as exactly one literal word,
 * never parsed as code: the value travels in an environment variable, and the reference becomes that variable's
 * expansion, written for the shell and for where the reference stands.
 *
 * | shell            | unquoted        | in `"…"`     | in `'…'`           |
 * |------------------|-----------------|--------------|--------------------|
 * | `sh`, `bash`     | `"${VAR}"`      | `${VAR}`     | `'"${VAR}"'`       |
 * | `pwsh`, `powershell` | `${env:VAR}` | `${env:VAR}` | refused           |
 * | `cmd`            | `"!VAR!"`       | `!VAR!`      | (no such quotes)   |
 *
 * Where a shell's scanner cannot be sure, the reference is refused with how to write it instead.
 *
 * @example
 * secretExpansions('echo ${{ secrets.T }}', 'pwsh', (n) => `BITENVOY_SECRET_${n}`)[0]?.text; // '${env:BITENVOY_SECRET_T}'
 */
import { findSecretReferences } from '../find-secret-references.js';
import { cmdValueProblem, findCmdReferences } from './find-cmd-references.js';
import { findPowerShellReferences } from './find-powershell-references.js';
import type { ShellName } from './shells.js';

/** One reference and what replaces it: `text`, or nothing (a comment: left as written), or why it is refused. */
export interface SecretExpansion {
  offset: number;
  length: number;
  name: string;
  line: number;
  /** The replacement; undefined for a reference in a comment (the shell never reads it). */
  text?: string;
  problem?: string;
}

/**
 * The references of `script` as `shell` reads it, each with its replacement or its problem, in order.
 *
 * @example
 * secretExpansions("echo '${{ secrets.T }}'", 'sh', (n) => `S_${n}`)[0]?.text; // `'"${S_T}"'`
 */
export function secretExpansions(script: string, shell: ShellName, variableOf: (name: string) => string): SecretExpansion[] {
  switch (shell) {
    case 'sh':
    case 'bash':
      return findSecretReferences(script).map(({ place, ...site }) => {
        if (place.kind === 'comment') return site;
        if (place.kind === 'refused') return { ...site, problem: place.problem };
        const variable = variableOf(site.name);
        const text = place.kind === 'double' ? `\${${variable}}` : place.kind === 'single' ? `'"\${${variable}}"'` : `"\${${variable}}"`;
        return { ...site, text };
      });
    case 'pwsh':
    case 'powershell':
      return findPowerShellReferences(script).map(({ place, ...site }) => {
        if (place.kind === 'comment') return site;
        if (place.kind === 'refused') return { ...site, problem: place.problem };
        return { ...site, text: `\${env:${variableOf(site.name)}}` };
      });
    case 'cmd':
      return findCmdReferences(script).map(({ place, ...site }) => {
        if (place.kind === 'refused') return { ...site, problem: place.problem };
        const bang = `!${variableOf(site.name)}!`;
        return { ...site, text: place.kind === 'quoted' ? bang : `"${bang}"` };
      });
  }
}

/**
 * Why a secret's value cannot be given to `shell` as one literal word, or undefined when it can (only cmd has
 * values it cannot pass on).
 *
 * @example
 * secretValueProblem('cmd', 'a\nb'); // 'contains a line break, …'
 */
export function secretValueProblem(shell: ShellName, value: string): string | undefined {
  return shell === 'cmd' ? cmdValueProblem(value) : undefined;
}
