/**
 * Where each `${{ secrets.NAME }}` of a PowerShell script stands (pwsh 7 and Windows PowerShell 5.1 read these the
 * same way): in code or in an expandable string (`"…"`, `@"…"@`, and code again inside `$(…)`), where
 * `${env:VAR}` yields the value once, never parsed as code; in a verbatim string (`'…'`, `@'…'@`), where nothing
 * expands; or in a comment. The scanner refuses what it cannot be sure of: a reference in a verbatim string, after a
 * backtick or a bare `$`, after the stop-parsing token `--%`, or in a script it could not follow to its end.
 *
 * @example
 * findPowerShellReferences('Write-Output "token: ${{ secrets.T }}"')[0]?.place; // { kind: 'expand' }
 */
import { SECRET_REFERENCE } from '../../config-schema/secret-reference.js';

/** `expand` → `${env:VAR}`; `comment` → left as written; `refused` → an error with the problem. */
export type PowerShellPlace = { kind: 'expand' | 'comment' } | { kind: 'refused'; problem: string };

export interface PowerShellReference {
  offset: number;
  length: number;
  name: string;
  line: number;
  place: PowerShellPlace;
}

type Kind = 'code' | 'subexpression' | 'double' | 'single' | 'here-double' | 'here-single';

/** PowerShell also reads the typographic quotes as quotes. */
const SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b";
const DOUBLE_QUOTES = '"\u201c\u201d\u201e';
/** Characters after which a `#` starts a comment. */
const TOKEN_END = ' \t\r\n;(){}|&,=';

const VERBATIM = (name: string) =>
  `stands in a single-quoted (verbatim) PowerShell string, where nothing expands; write it in double quotes (\`"…\${{ secrets.${name} }}…"\`) or outside the string`;
const ESCAPED = () => 'follows a backtick, so PowerShell would print it as written instead of expanding it; remove the backtick';
const AFTER_DOLLAR = () => 'follows a bare `$`, which would join it into another variable name; write `` `$ `` for a literal `$`';
const STOP_PARSING = () => 'stands after the stop-parsing token `--%`, where PowerShell passes the rest of the line as written; put it before `--%`, or drop `--%`';

/**
 * The references in a PowerShell `script`, in order.
 *
 * @example
 * findPowerShellReferences("echo '${{ secrets.T }}'")[0]?.place.kind; // 'refused'
 */
export function findPowerShellReferences(script: string): PowerShellReference[] {
  const s = script;
  const found: PowerShellReference[] = [];
  const stack: Array<{ kind: Kind; parens: number; at: number }> = [{ kind: 'code', parens: 0, at: 0 }];
  const reference = new RegExp(SECRET_REFERENCE.source, 'y');
  const lineOf = (offset: number) => s.slice(0, offset).split('\n').length;
  let stopParsingUntil = -1;
  let lost = false;
  const record = (at: number, place: PowerShellPlace): boolean => {
    reference.lastIndex = at;
    const match = reference.exec(s);
    if (!match) return false;
    found.push({ offset: at, length: match[0].length, name: match[1]!, line: lineOf(at), place });
    return true;
  };
  /** Comments: references in `[from, to)` are left as written. */
  const comments = (from: number, to: number) => {
    for (let at = s.indexOf('${{', from); at !== -1 && at < to; at = s.indexOf('${{', at + 1)) record(at, { kind: 'comment' });
  };
  let i = 0;
  while (i < s.length) {
    const f = stack.at(-1)!;
    const c = s[i]!;
    const atLineStart = i === 0 || s[i - 1] === '\n';
    if (c === '$' && s.startsWith('${{', i)) {
      const place = (): PowerShellPlace => {
        if (f.kind === 'single' || f.kind === 'here-single') return { kind: 'refused', problem: '' };
        if (s[i - 1] === '`') return { kind: 'refused', problem: ESCAPED() };
        if (s[i - 1] === '$' && s[i - 2] !== '`') return { kind: 'refused', problem: AFTER_DOLLAR() };
        if (i < stopParsingUntil) return { kind: 'refused', problem: STOP_PARSING() };
        return { kind: 'expand' };
      };
      const p = place();
      const before = found.length;
      if (record(i, p)) {
        const site = found[before]!;
        if (p.kind === 'refused' && !p.problem) site.place = { kind: 'refused', problem: VERBATIM(site.name) };
        i += site.length;
        continue;
      }
    }
    if (f.kind === 'single') {
      if (SINGLE_QUOTES.includes(c)) {
        if (isIn(SINGLE_QUOTES, s[i + 1])) i += 2;
        else {
          stack.pop();
          i++;
        }
      } else i++;
      continue;
    }
    if (f.kind === 'here-single' || f.kind === 'here-double') {
      const close = f.kind === 'here-single' ? SINGLE_QUOTES : DOUBLE_QUOTES;
      if (atLineStart && close.includes(c) && s[i + 1] === '@') {
        stack.pop();
        i += 2;
        continue;
      }
      if (f.kind === 'here-single') {
        i++;
        continue;
      }
    }
    if (c === '`' && s.startsWith('${{', i + 1)) {
      // An escaped `$`: the reference would be printed as written.
      record(i + 1, { kind: 'refused', problem: ESCAPED() });
      i = found.at(-1)!.offset + found.at(-1)!.length;
      continue;
    }
    if (f.kind === 'double' || f.kind === 'here-double') {
      if (c === '`') i += 2;
      else if (f.kind === 'double' && DOUBLE_QUOTES.includes(c)) {
        if (isIn(DOUBLE_QUOTES, s[i + 1])) i += 2;
        else {
          stack.pop();
          i++;
        }
      } else if (c === '$' && s[i + 1] === '(') {
        stack.push({ kind: 'subexpression', parens: 0, at: i });
        i += 2;
      } else if (c === '$' && s[i + 1] === '{') {
        i = skipBracedName(s, i);
      } else i++;
      continue;
    }
    // Code: the script itself, or `$(…)` inside an expandable string.
    const tokenStart = i === 0 || TOKEN_END.includes(s[i - 1]!);
    if (c === '<' && s[i + 1] === '#') {
      const end = s.indexOf('#>', i + 2);
      const stop = end === -1 ? s.length : end + 2;
      comments(i, stop);
      if (end === -1) lost = true;
      i = stop;
    } else if (c === '#' && tokenStart) {
      const end = s.indexOf('\n', i);
      const stop = end === -1 ? s.length : end;
      comments(i, stop);
      i = stop;
    } else if (c === '`') {
      i += 2;
    } else if (c === '-' && tokenStart && s.startsWith('--%', i)) {
      const end = s.indexOf('\n', i);
      stopParsingUntil = end === -1 ? s.length : end;
      i += 3;
    } else if (SINGLE_QUOTES.includes(c)) {
      stack.push({ kind: 'single', parens: 0, at: i });
      i++;
    } else if (DOUBLE_QUOTES.includes(c)) {
      stack.push({ kind: 'double', parens: 0, at: i });
      i++;
    } else if (c === '@' && isIn(SINGLE_QUOTES + DOUBLE_QUOTES, s[i + 1]) && /^[ \t]*\r?\n/.test(s.slice(i + 2))) {
      stack.push({ kind: SINGLE_QUOTES.includes(s[i + 1]!) ? 'here-single' : 'here-double', parens: 0, at: i });
      i = s.indexOf('\n', i) + 1;
    } else if (c === '$' && s[i + 1] === '{') {
      i = skipBracedName(s, i);
    } else if (c === '$' && s[i + 1] === '(') {
      f.parens++;
      i += 2;
    } else if (c === '(') {
      f.parens++;
      i++;
    } else if (c === ')') {
      if (f.parens > 0) f.parens--;
      else if (f.kind === 'subexpression') stack.pop();
      else lost = true;
      i++;
    } else i++;
  }
  if (lost || stack.length > 1) {
    const problem = 'cannot be placed: the script ends inside a string, a `$(…)` or a `<#` comment (or has an unmatched `)`), so PowerShell would not read it as written; close it';
    for (const site of found) if (site.place.kind !== 'comment') site.place = { kind: 'refused', problem };
  }
  return found;
}

/** Whether `c` is one of the characters in `set` (an absent character is in none). */
function isIn(set: string, c: string | undefined): boolean {
  return c !== undefined && c !== '' && set.includes(c);
}

/** `${name}`: a variable name in braces (a backtick escapes a `}` in it); returns the offset after the `}`. */
function skipBracedName(s: string, at: number): number {
  let i = at + 2;
  while (i < s.length && s[i] !== '}') i += s[i] === '`' ? 2 : 1;
  return i + 1;
}
