/**
 * Where each `${{ secrets.NAME }}` of a cmd.exe command line stands. cmd expands `%VAR%` before it parses the line,
 * so a value with `&` in it would run code; the agent runs cmd with delayed expansion (`/v:on`) and writes
 * `!VAR!`, which is expanded after the line was parsed: its value is never read as `&`, `|`, `>` or `(`. Inside
 * `"…"` it is written `!VAR!`, elsewhere `"!VAR!"` (one argument, spaces and all).
 *
 * cmd cannot do that safely everywhere, and those places are refused: after a `^` (escaped), next to `%` or `!` or
 * inside a `%…%`/`!…!` of the script's own (it would join another expansion), on a line with a pipe (each side runs
 * in a new cmd.exe without delayed expansion) or with `call`, `for`, `cmd` or `start` (they read the line again,
 * value included).
 *
 * @example
 * findCmdReferences('deploy.exe --token ${{ secrets.T }}')[0]?.place; // { kind: 'unquoted' }
 */
import { SECRET_REFERENCE } from '../../config-schema/secret-reference.js';

/** `unquoted` → `"!VAR!"`, `quoted` → `!VAR!`, `refused` → an error with the problem. */
export type CmdPlace = { kind: 'unquoted' | 'quoted' } | { kind: 'refused'; problem: string };

export interface CmdReference {
  offset: number;
  length: number;
  name: string;
  line: number;
  place: CmdPlace;
}

/** Commands that parse their arguments again (or run another cmd.exe): a value in them would be read as code. */
const REPARSING = /(?:^|[\s&|()@;,=])(call|for|cmd|cmd\.exe|start)(?=$|[\s&|()@;,=/])/i;

/**
 * The references in a cmd `line`, in order.
 *
 * @example
 * findCmdReferences('echo "${{ secrets.T }}" | more')[0]?.place.kind; // 'refused'
 */
export function findCmdReferences(line: string): CmdReference[] {
  const found: CmdReference[] = [];
  const reference = new RegExp(SECRET_REFERENCE.source, 'y');
  // The line with its quoted parts and references blanked: what cmd itself parses for pipes and commands.
  let outside = '';
  let quoted = false;
  let bangs = 0;
  let percents = 0;
  const sites: Array<{ at: number; length: number; name: string; quoted: boolean; escaped: boolean; bangs: number; percents: number }> = [];
  for (let i = 0; i < line.length; ) {
    reference.lastIndex = i;
    const match = line[i] === '$' ? reference.exec(line) : null;
    if (match) {
      sites.push({ at: i, length: match[0].length, name: match[1]!, quoted, escaped: !quoted && line[i - 1] === '^', bangs, percents });
      outside += ' '.repeat(match[0].length);
      i += match[0].length;
      continue;
    }
    const c = line[i]!;
    if (c === '!') bangs++;
    if (c === '%') percents++;
    if (c === '"') quoted = !quoted;
    if (!quoted && c === '^' && line[i + 1] !== '$') {
      outside += '  ';
      i += 2;
      continue;
    }
    outside += quoted || c === '"' ? ' ' : c;
    i++;
  }
  const pipe = /(?<!\|)\|(?!\|)/.test(outside);
  const reparsing = REPARSING.exec(outside)?.[1];
  for (const site of sites) {
    const problem = ((): string | undefined => {
      if (site.escaped) return 'follows a `^`, so cmd would print it as written instead of expanding it; remove the `^`';
      if (pipe) return 'stands on a line with a pipe `|`, whose sides cmd runs in new cmd.exe processes without delayed expansion; write the value to a file first, or use `shell: pwsh`';
      if (reparsing) return `stands on a line with \`${reparsing.toLowerCase()}\`, which makes cmd read the line again — value included — as code; use \`shell: pwsh\` for this step`;
      const neighbours = `${line[site.at - 1] ?? ''}${line[site.at + site.length] ?? ''}`;
      if (/[%!]/.test(neighbours) || site.bangs % 2 === 1 || site.percents % 2 === 1) {
        return 'stands next to (or inside) a `%…%` or `!…!` expansion of the script\'s own, which cmd would join with it; separate them, e.g. with a space';
      }
      return undefined;
    })();
    const place: CmdPlace = problem ? { kind: 'refused', problem } : { kind: site.quoted ? 'quoted' : 'unquoted' };
    found.push({ offset: site.at, length: site.length, name: site.name, line: 1, place });
  }
  return found;
}

/**
 * What cmd cannot pass on as one literal argument, whatever the script says: a `"` (it would end the quotes the
 * program sees) and line breaks. Undefined when the value is fine.
 *
 * @example
 * cmdValueProblem('a"b'); // 'contains a double quote …'
 */
export function cmdValueProblem(value: string): string | undefined {
  if (value.includes('"')) return 'contains a double quote `"`, which a program started by cmd would read as the end of its argument; use `shell: pwsh` for this step, or pass the secret in `env:`';
  if (/[\r\n]/.test(value)) return 'contains a line break, which cmd cannot hand to a program in one argument; use `shell: pwsh` for this step, or pass the secret in `env:`';
  return undefined;
}
