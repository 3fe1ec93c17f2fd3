/**
 * Where each `${{ secrets.NAME }}` of a step's `run` stands, as the shell will read the script: a scanner that keeps a
 * stack of the real shell contexts — unquoted words, `"…"`, `'…'`, `$'…'`, `$(…)` and backquotes (quoting starts
 * afresh inside them, even within `"…"`), `${…}`, `$((…))`, comments, `case` patterns and here-documents — so that
 * bindSecrets() can write an expansion that yields exactly the value, as one word, in that place.
 *
 * What the scanner cannot be sure of it refuses rather than guesses: a reference where the value would not be used as
 * text (a `${…}` name or pattern, arithmetic), where nothing expands (a here-document with a quoted delimiter), where
 * /bin/sh (dash) and bash read the script differently (`$'…'`), or anywhere in a script it could not follow to its end.
 *
 * @example
 * findSecretReferences('echo "$(printf %s "${{ secrets.PW }}")"');
 * // [{ offset: 25, length: 19, name: 'PW', line: 1, place: { kind: 'double' } }]
 */
import { SECRET_REFERENCE } from '../config-schema/secret-reference.js';

/**
 * How a reference must be expanded: `unquoted` → `"${VAR}"`, `double` (inside `"…"` or a here-document body) →
 * `${VAR}`, `single` → `'"${VAR}"'`; `comment` → left as written (the shell never reads it); `refused` → an error.
 */
export type ReferencePlace = { kind: 'unquoted' | 'double' | 'single' | 'comment' } | { kind: 'refused'; problem: string };

export interface SecretReferenceSite {
  offset: number;
  length: number;
  name: string;
  /** 1-based line of the script, for messages. */
  line: number;
  place: ReferencePlace;
}

type FrameKind = 'top' | 'subshell' | 'cmdsub' | 'backtick' | 'arith' | 'param' | 'double' | 'single' | 'ansi' | 'heredoc' | 'quoted-heredoc';

interface Frame {
  kind: FrameKind;
  /** Offset where it opened, for messages. */
  at: number;
  /** Command frames: the next character starts a word / a command (for comments, `case`, `((`). */
  wordStart: boolean;
  commandStart: boolean;
  /** Command frames: open `case … esac` (a `)` then ends a pattern, not the frame); `case WORD` waits for `in`. */
  caseDepth: number;
  expectIn: boolean;
  /** Backquotes: a nested (escaped) backquote was seen, after which references are refused. */
  nested: boolean;
  /** "…" opened by \" in backquotes inside "…": closed by \" too. */
  escapedQuotes: boolean;
  /** Arithmetic: open parentheses. */
  parens: number;
  /** `${…}`: reading the name, the word of `-`/`=`/`+`/`?`, or something else (a pattern, an offset); inside "…"? */
  phase: 'name' | 'word' | 'other';
  inDouble: boolean;
  /** Here-document bodies. */
  delimiter: string;
  stripTabs: boolean;
  lineStart: boolean;
}

interface PendingHeredoc {
  delimiter: string;
  stripTabs: boolean;
  quoted: boolean;
}

/** Why a reference is refused, given its secret's name. */
type Problem = (name: string) => string;

const COMMAND_FRAMES: ReadonlySet<FrameKind> = new Set(['top', 'subshell', 'cmdsub', 'backtick']);
/** Words after which a command starts again (`then case …`, `! case …`). */
const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'for', 'case', 'esac', 'in', '{', '}', '!', 'time']);
/** Characters that end an unquoted word. */
const METACHARACTERS = ' \t\n;&|<>()';

const WHERE_NOTHING_EXPANDS = (_name: string) =>
  'stands in a here-document whose delimiter is quoted, where nothing expands; write the delimiter unquoted (`<<EOF`) and escape any other `$`, `` ` `` and `\\` in the body as `\\$`, `` \\` `` and `\\\\`';
const NOT_AS_TEXT = (name: string) =>
  `stands inside \`\${…}\` where the value would be used as a variable name, a pattern or a number, not as text; only the words of \`\${v:-…}\`, \`\${v:=…}\`, \`\${v:+…}\` and \`\${v:?…}\` can hold one — or assign it to a variable first (\`v=\${{ secrets.${name} }}\`) and use \`$v\``;
const ARITHMETIC = (_name: string) => 'stands inside arithmetic (`$((…))` or `((…))`), where the shell would evaluate the value as an expression instead of using it as text; use it outside the arithmetic';
const ANSI = (name: string) =>
  `stands inside \`$'…'\`, which /bin/sh (dash) and bash read differently (dash keeps the \`$\` and the backslashes); close the string before it, as in \`$'…'"\${{ secrets.${name} }}"\``;
const NESTED_BACKQUOTES = (_name: string) => 'stands inside nested backquotes (`` `…\\`…\\`…` ``), which are read twice; write the command substitutions as `$(…)` instead';
const ESCAPED = (_name: string) => 'follows a backslash, so the shell would print it as written instead of expanding it; remove the backslash';
const DELIMITER = () => 'is part of a here-document delimiter, which the shell never expands; a delimiter is a fixed word like `EOF`';
const AFTER_DOLLAR = (_name: string) => 'follows a bare `$`, which would join it into another expansion; write `\\$` for a literal `$`';

export function findSecretReferences(script: string): SecretReferenceSite[] {
  return new Scanner(script).scan();
}

class Scanner {
  #s: string;
  #i = 0;
  #stack: Frame[];
  #pending: PendingHeredoc[] = [];
  #sites: SecretReferenceSite[] = [];
  #reference = new RegExp(SECRET_REFERENCE.source, 'y');
  /** Set once the scanner can no longer tell how the rest of the script is read: every later reference is refused. */
  #lost: string | undefined;
  /** Offset of the last `$` that stood alone (`$$`, `$1`…): a reference right after it would be glued to it. */
  #bareDollar = -2;

  constructor(script: string) {
    this.#s = script;
    this.#stack = [{ ...frame('top', 0), wordStart: true, commandStart: true }];
  }

  scan(): SecretReferenceSite[] {
    const s = this.#s;
    while (this.#i < s.length) {
      const f = this.#top();
      if (f.kind === 'quoted-heredoc') {
        // Taken a whole line at a time: nothing in it is read by the shell.
        f.lineStart = true;
        this.#heredocLine(f);
        continue;
      }
      if (f.kind === 'heredoc' && f.lineStart && this.#heredocLine(f)) continue;
      if (s[this.#i] === '$' && this.#referenceAt(this.#i)) continue;
      switch (f.kind) {
        case 'top':
        case 'subshell':
        case 'cmdsub':
        case 'backtick':
          this.#command(f);
          break;
        case 'double':
        case 'heredoc':
          this.#double(f);
          break;
        case 'single':
          if (s[this.#i++] === "'") this.#pop();
          break;
        case 'ansi':
          if (s[this.#i] === '\\') this.#i += 2;
          else if (s[this.#i++] === "'") this.#pop();
          break;
        case 'param':
          this.#param(f);
          break;
        case 'arith':
          this.#arith(f);
          break;
        default:
          this.#i++;
      }
    }
    // A here-document may run to the end of the script; anything else still open means the scanner did not follow
    // the script as the shell will, so no reference in it is expanded on a guess.
    const open = this.#stack.filter((f) => f.kind !== 'heredoc' && f.kind !== 'quoted-heredoc').at(-1)!;
    if (open.kind !== 'top') {
      const problem = `cannot be placed: the script ends inside ${describe(open.kind)} opened at line ${this.#lineOf(open.at)}, so the shell would not read it as written; close it`;
      for (const site of this.#sites) if (site.place.kind !== 'comment') site.place = { kind: 'refused', problem };
    }
    return this.#sites;
  }

  #top(): Frame {
    return this.#stack.at(-1)!;
  }

  #push(kind: FrameKind, at: number, fields: Partial<Frame> = {}): Frame {
    const f = { ...frame(kind, at), ...fields };
    this.#stack.push(f);
    return f;
  }

  /** Closes the innermost frame; what follows it in the enclosing command frame continues the same word. */
  #pop(): void {
    if (this.#stack.length > 1) this.#stack.pop();
    this.#continueWord();
  }

  #continueWord(): void {
    const parent = this.#top();
    parent.wordStart = false;
    parent.commandStart = false;
  }

  #lineOf(offset: number): number {
    let line = 1;
    for (let i = this.#s.indexOf('\n'); i !== -1 && i < offset; i = this.#s.indexOf('\n', i + 1)) line++;
    return line;
  }

  #lose(problem: string): void {
    this.#lost ??= problem;
  }

  /**
   * A reference at `at`: records where it stands (or the given problem) and skips it (it is one piece of a word,
   * like `$x`).
   */
  #referenceAt(at: number, problem?: Problem): boolean {
    this.#reference.lastIndex = at;
    const match = this.#reference.exec(this.#s);
    if (!match) return false;
    const name = match[1]!;
    const place: ReferencePlace = problem ? { kind: 'refused', problem: problem(name) } : this.#place(at, name);
    this.#sites.push({ offset: at, length: match[0].length, name, line: this.#lineOf(at), place });
    this.#i = at + match[0].length;
    this.#continueWord();
    return true;
  }

  /** Records the references in `[from, to)`: in a comment, or refused (quoted here-document lines, delimiter words). */
  #referencesIn(from: number, to: number, problem?: Problem): void {
    for (let at = this.#s.indexOf('${{', from); at !== -1 && at < to; at = this.#s.indexOf('${{', at + 1)) {
      this.#reference.lastIndex = at;
      const match = this.#reference.exec(this.#s);
      if (!match || at + match[0].length > to) continue;
      const name = match[1]!;
      const place: ReferencePlace = problem ? { kind: 'refused', problem: problem(name) } : { kind: 'comment' };
      this.#sites.push({ offset: at, length: match[0].length, name, line: this.#lineOf(at), place });
    }
  }

  #place(at: number, name: string): ReferencePlace {
    const refused = (problem: Problem): ReferencePlace => ({ kind: 'refused', problem: problem(name) });
    if (this.#lost) return { kind: 'refused', problem: this.#lost };
    if (this.#bareDollar === at - 1) return refused(AFTER_DOLLAR);
    if (this.#stack.some((f) => f.kind === 'backtick' && f.nested)) return refused(NESTED_BACKQUOTES);
    const f = this.#top();
    // Arithmetic evaluates whatever is inside it, through quotes and `${…}`, up to a command substitution.
    for (let k = this.#stack.length - 1; k >= 0 && !COMMAND_FRAMES.has(this.#stack[k]!.kind); k--) {
      if (this.#stack[k]!.kind === 'arith') return refused(ARITHMETIC);
    }
    switch (f.kind) {
      case 'single':
        return { kind: 'single' };
      case 'double':
      case 'heredoc':
        return { kind: 'double' };
      case 'ansi':
        return refused(ANSI);
      case 'quoted-heredoc':
        return refused(WHERE_NOTHING_EXPANDS);
      case 'param':
        if (f.phase !== 'word') return refused(NOT_AS_TEXT);
        return { kind: f.inDouble ? 'double' : 'unquoted' };
      default:
        return { kind: 'unquoted' };
    }
  }

  /** Unquoted shell text: the top level, `( … )`, `$( … )` and backquotes. */
  #command(f: Frame): void {
    const s = this.#s;
    const i = this.#i;
    const c = s[i]!;
    if (f.kind === 'backtick' && c === '`') {
      this.#i++;
      this.#pop();
      return;
    }
    if (f.wordStart && c === '#') {
      // A comment runs to the end of its line (in backquotes, at most to the closing one): nothing in it is read.
      let end = s.indexOf('\n', i);
      if (end === -1) end = s.length;
      if (f.kind === 'backtick') {
        const close = s.slice(i, end).search(/(?<!\\)`/);
        if (close !== -1) end = i + close;
      }
      this.#referencesIn(i, end);
      this.#i = end;
      return;
    }
    if (f.wordStart && /[A-Za-z_{}!]/.test(c)) {
      const word = /[A-Za-z_][A-Za-z0-9_]*|[{}!]/y;
      word.lastIndex = i;
      const w = word.exec(s)![0];
      const end = i + w.length;
      if (end === s.length || METACHARACTERS.includes(s[end]!)) {
        this.#i = end;
        f.wordStart = false;
        if (w === 'in' && f.expectIn) {
          f.expectIn = false;
          f.commandStart = true;
        } else if (f.commandStart && RESERVED.has(w)) {
          if (w === 'case') {
            f.caseDepth++;
            f.expectIn = true;
          } else if (w === 'esac') {
            f.caseDepth = Math.max(0, f.caseDepth - 1);
          }
          f.commandStart = w !== 'case';
        } else {
          f.commandStart = false;
        }
        return;
      }
    }
    switch (c) {
      case '\\':
        if (s[i + 1] === '$' && this.#referenceAt(i + 1, ESCAPED)) return;
        if (s[i + 1] === '`' && f.kind === 'backtick') f.nested = true;
        if (s[i + 1] === '"' && f.kind === 'backtick' && this.#backquoteIn() !== 'command') {
          // In backquotes inside "…", both shells read \" as a quote; inside a here-document or "${…}" dash does, bash
          // does not.
          const within = this.#backquoteIn();
          if (within !== 'double') {
            const where = within === 'heredoc' ? 'the here-document' : 'the `"${…}"`';
            this.#lose(`cannot be placed: the \`\\"\` in backquotes in ${where} at line ${this.#lineOf(i)} is a quote for /bin/sh (dash) but not for bash; write the command substitution as \`$(…)\``);
            this.#i += 2;
            return;
          }
          this.#i += 2;
          this.#word(f);
          this.#push('double', i, { escapedQuotes: true });
          return;
        }
        this.#i += 2;
        if (s[i + 1] !== '\n') this.#word(f);
        return;
      case '\n':
        this.#i++;
        f.wordStart = f.commandStart = true;
        if (this.#pending.length) this.#startHeredoc();
        return;
      case ' ':
      case '\t':
        this.#i++;
        f.wordStart = true;
        return;
      case ';':
      case '&':
      case '|':
        this.#i++;
        f.wordStart = f.commandStart = true;
        return;
      case '(':
        if (f.commandStart && s[i + 1] === '(') {
          this.#i += 2;
          this.#word(f);
          this.#push('arith', i);
        } else {
          this.#i++;
          f.wordStart = f.commandStart = true;
          this.#push('subshell', i, { wordStart: true, commandStart: true });
        }
        return;
      case ')':
        this.#i++;
        if (f.caseDepth > 0) {
          // The end of a `case` pattern.
          f.wordStart = f.commandStart = true;
        } else if (f.kind === 'subshell') {
          this.#stack.pop();
          this.#top().wordStart = true;
          this.#top().commandStart = false;
        } else if (f.kind === 'cmdsub') {
          this.#pop();
        } else {
          this.#lose(`cannot be placed: there is an unmatched \`)\` at line ${this.#lineOf(i)}, so the scanner cannot tell how the shell reads what follows; balance the parentheses`);
        }
        return;
      case '<':
        if (s.startsWith('<<<', i)) this.#i += 3;
        else if (s.startsWith('<<', i)) this.#heredocOperator(i);
        else this.#i++;
        f.wordStart = true;
        return;
      case '>':
        this.#i++;
        f.wordStart = true;
        return;
      case '"':
        this.#i++;
        this.#word(f);
        this.#push('double', i);
        return;
      case "'":
        this.#i++;
        this.#word(f);
        this.#push('single', i);
        return;
      case '`':
        this.#i++;
        this.#word(f);
        this.#push('backtick', i, { wordStart: true, commandStart: true });
        return;
      case '$':
        this.#dollar(f);
        return;
      default:
        this.#i++;
        this.#word(f);
    }
  }

  /** What the innermost backquotes stand in: unquoted text, "…", "${…}", or a here-document body. */
  #backquoteIn(): 'command' | 'double' | 'double-param' | 'heredoc' {
    const parent = this.#stack.at(-2);
    if (parent?.kind === 'heredoc') return 'heredoc';
    if (parent?.kind === 'param' && parent.inDouble) return 'double-param';
    return parent?.kind === 'double' ? 'double' : 'command';
  }

  /** The current word goes on (it is no longer at its start, nor a command name to look at). */
  #word(f: Frame): void {
    f.wordStart = false;
    f.commandStart = false;
  }

  /** `"…"`, and the body of a here-document with an unquoted delimiter (where quotes are plain characters). */
  #double(f: Frame): void {
    const s = this.#s;
    const i = this.#i;
    const c = s[i]!;
    if (c === '"' && f.kind === 'double') {
      this.#i++;
      this.#pop();
    } else if (c === '\\' && s[i + 1] === '"' && f.escapedQuotes) {
      this.#i += 2;
      this.#pop();
    } else if (c === '\\') {
      if (s[i + 1] === '$' && this.#referenceAt(i + 1, ESCAPED)) return;
      this.#i += '$`"\\\n'.includes(s[i + 1] ?? '') ? 2 : 1;
    } else if (c === '$') {
      this.#dollar(f);
    } else if (c === '`') {
      this.#i++;
      this.#push('backtick', i, { wordStart: true, commandStart: true });
    } else {
      this.#i++;
      if (c === '\n' && f.kind === 'heredoc') f.lineStart = true;
    }
  }

  /** `${…}`: a name, then an operator and its word, up to the first `}`. */
  #param(f: Frame): void {
    const s = this.#s;
    const i = this.#i;
    if (f.phase === 'name') {
      const name = /[#!]?(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])?/y;
      name.lastIndex = i;
      this.#i += name.exec(s)![0].length;
      const operator = /:?[-=+?]/y;
      operator.lastIndex = this.#i;
      const op = operator.exec(s);
      if (op) this.#i += op[0].length;
      f.phase = op ? 'word' : 'other';
      return;
    }
    const c = s[i]!;
    switch (c) {
      case '}':
        this.#i++;
        this.#pop();
        return;
      case '\\':
        if (s[i + 1] === '$' && this.#referenceAt(i + 1, ESCAPED)) return;
        this.#i += 2;
        return;
      case '$':
        this.#dollar(f);
        return;
      case '`':
        this.#i++;
        this.#push('backtick', i, { wordStart: true, commandStart: true });
        return;
      case '"':
        this.#i++;
        this.#push('double', i);
        return;
      case "'":
        this.#i++;
        // Inside "${…}" a single quote is a plain character (dash and bash agree for these operators).
        if (!f.inDouble) this.#push('single', i);
        return;
      default:
        this.#i++;
    }
  }

  /** `$((…))` / `((…))`: balanced parentheses up to `))`. */
  #arith(f: Frame): void {
    const s = this.#s;
    const i = this.#i;
    const c = s[i]!;
    if (c === '(') {
      f.parens++;
      this.#i++;
    } else if (c === ')') {
      if (f.parens > 0) {
        f.parens--;
        this.#i++;
      } else if (s[i + 1] === ')') {
        this.#i += 2;
        this.#pop();
      } else {
        this.#lose(`cannot be placed: the \`((\` opened at line ${this.#lineOf(f.at)} does not end with \`))\`, so the scanner cannot tell whether it is arithmetic or nested subshells; write \`$( (…) )\` with a space for subshells`);
        this.#i++;
        this.#pop();
      }
    } else if (c === '$') {
      this.#dollar(f);
    } else if (c === '`') {
      this.#i++;
      this.#push('backtick', i, { wordStart: true, commandStart: true });
    } else if (c === '"') {
      this.#i++;
      this.#push('double', i);
    } else if (c === '\\') {
      this.#i += 2;
    } else {
      this.#i++;
    }
  }

  /** A `$` that is not a secret reference: `$(`, `$((`, `${`, `$'`, `$"`, or a plain `$x`/`$$`. */
  #dollar(f: Frame): void {
    const s = this.#s;
    const i = this.#i;
    const next = s[i + 1];
    const quoted = f.kind === 'double' || f.kind === 'heredoc' || (f.kind === 'param' && f.inDouble);
    if (COMMAND_FRAMES.has(f.kind)) this.#word(f);
    if (next === '(' && s[i + 2] === '(') {
      this.#i += 3;
      this.#push('arith', i);
    } else if (next === '(') {
      this.#i += 2;
      this.#push('cmdsub', i, { wordStart: true, commandStart: true });
    } else if (next === '{') {
      this.#i += 2;
      this.#push('param', i, { phase: 'name', inDouble: quoted });
    } else if (next === "'" && !quoted) {
      this.#ansi(i);
    } else if (next === '"' && !quoted) {
      // bash's $"…" (a translatable string) and dash's `$` + "…" are both a double-quoted string here.
      this.#i += 2;
      this.#push('double', i);
    } else {
      this.#bareDollar = i;
      this.#i++;
    }
  }

  /**
   * `$'…'`: bash reads backslash escapes in it (so `\'` does not end it); dash 0.5.12 reads `$` and then an ordinary
   * `'…'`. Where the two end in different places, nothing after it can be placed for sure.
   */
  #ansi(i: number): void {
    const s = this.#s;
    const dashEnd = s.indexOf("'", i + 2);
    let bashEnd = i + 2;
    while (bashEnd < s.length && s[bashEnd] !== "'") bashEnd += s[bashEnd] === '\\' ? 2 : 1;
    if (dashEnd !== bashEnd) {
      this.#lose(`cannot be placed: the \`$'…'\` string at line ${this.#lineOf(i)} ends in different places for /bin/sh (dash) and bash (they read \`\\'\` differently); write that string without \`\\'\`, as in "it's"`);
    }
    this.#i += 2;
    this.#push('ansi', i);
  }

  /** `<<WORD` / `<<-WORD`: the body follows the end of the line, quoted (nothing expands) if any of WORD is. */
  #heredocOperator(i: number): void {
    const s = this.#s;
    let j = i + 2;
    const stripTabs = s[j] === '-';
    if (stripTabs) j++;
    while (s[j] === ' ' || s[j] === '\t') j++;
    let delimiter = '';
    let quoted = false;
    while (j < s.length && !METACHARACTERS.includes(s[j]!)) {
      const c = s[j]!;
      this.#reference.lastIndex = j;
      const reference = c === '$' ? this.#reference.exec(s) : null;
      if (reference) {
        this.#sites.push({ offset: j, length: reference[0].length, name: reference[1]!, line: this.#lineOf(j), place: { kind: 'refused', problem: DELIMITER() } });
        delimiter += reference[0];
        j += reference[0].length;
      } else if (c === '\\') {
        quoted = true;
        delimiter += s[j + 1] ?? '';
        j += 2;
      } else if (c === "'" || c === '"') {
        quoted = true;
        const close = s.indexOf(c, j + 1);
        const end = close === -1 ? s.length : close;
        delimiter += s.slice(j + 1, end);
        j = end + 1;
      } else {
        delimiter += c;
        j++;
      }
    }
    if (!delimiter) this.#lose(`cannot be placed: the \`<<\` at line ${this.#lineOf(i)} has no delimiter word, so the scanner cannot tell where its body ends; write one, like \`<<EOF\``);
    this.#pending.push({ delimiter, stripTabs, quoted });
    this.#i = j;
  }

  #startHeredoc(): void {
    const doc = this.#pending.shift()!;
    this.#push(doc.quoted ? 'quoted-heredoc' : 'heredoc', this.#i, { delimiter: doc.delimiter, stripTabs: doc.stripTabs, lineStart: true });
  }

  /**
   * At the start of a body line: the delimiter line ends the body (the next pending body, if any, starts after it).
   * A quoted body's lines are taken whole. Returns true when it consumed the line.
   */
  #heredocLine(f: Frame): boolean {
    const s = this.#s;
    const newline = s.indexOf('\n', this.#i);
    const end = newline === -1 ? s.length : newline;
    const text = s.slice(this.#i, end);
    if ((f.stripTabs ? text.replace(/^\t+/, '') : text) === f.delimiter) {
      this.#i = newline === -1 ? s.length : newline + 1;
      this.#stack.pop();
      const parent = this.#top();
      parent.wordStart = parent.commandStart = true;
      if (this.#pending.length) this.#startHeredoc();
      return true;
    }
    f.lineStart = false;
    if (f.kind !== 'quoted-heredoc') return false;
    this.#referencesIn(this.#i, end, WHERE_NOTHING_EXPANDS);
    this.#i = newline === -1 ? s.length : newline + 1;
    f.lineStart = true;
    return true;
  }
}

function frame(kind: FrameKind, at: number): Frame {
  return {
    kind,
    at,
    wordStart: false,
    commandStart: false,
    caseDepth: 0,
    expectIn: false,
    nested: false,
    escapedQuotes: false,
    parens: 0,
    phase: 'name',
    inDouble: false,
    delimiter: '',
    stripTabs: false,
    lineStart: false,
  };
}

function describe(kind: FrameKind): string {
  const names: Record<FrameKind, string> = {
    top: 'the script',
    subshell: 'a `(` subshell',
    cmdsub: 'a `$(` command substitution',
    backtick: 'a backquoted command substitution',
    arith: 'an arithmetic `$((`',
    param: 'a `${` expansion',
    double: 'a double-quoted string',
    single: 'a single-quoted string',
    ansi: "a `$'` string",
    heredoc: 'a here-document',
    'quoted-heredoc': 'a here-document',
  };
  return names[kind];
}
