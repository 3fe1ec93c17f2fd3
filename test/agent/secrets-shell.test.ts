/**
 * Secret references against real shells: every shell context a step can write a reference in, times values that
 * shells love to rewrite (spaces, globs, `$`, quotes, backslashes, newlines, a leading `-`, unicode…), bound by
 * bindSecrets() and run by /bin/sh (dash, what steps run in) and by bash. The bytes each prints must be exactly what
 * the context does with the value — the value itself, one word, never split, globbed or expanded.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindSecrets } from '../../agent/secrets.js';

/** `R` in a script stands for the secret reference. */
interface Context {
  name: string;
  script: string;
  /** What the script prints for a value (default: the value itself). */
  prints?: (value: string) => string;
}

/** What command substitution does to any text: trailing newlines go. */
const stripped = (value: string) => value.replace(/\n+$/, '');

const CONTEXTS: Context[] = [
  { name: 'bare', script: "printf '%s' R" },
  { name: 'in double quotes', script: `printf '%s' "R"` },
  { name: 'in single quotes', script: `printf '%s' 'R'` },
  { name: 'inside an unquoted word', script: "printf '%s' pre-R-post", prints: (v) => `pre-${v}-post` },
  { name: 'inside a double-quoted word', script: `printf '%s' "pre R post"`, prints: (v) => `pre ${v} post` },
  { name: 'inside a single-quoted word', script: "printf '%s' 'pre R post'", prints: (v) => `pre ${v} post` },
  { name: "between quotes, after a ' in double quotes", script: `printf '%s' "a'b"R'c'`, prints: (v) => `a'b${v}c` },
  { name: 'between quotes, after a " in single quotes', script: `printf '%s' 'x"y'R"z'"`, prints: (v) => `x"y${v}z'` },
  { name: 'after escaped double quotes', script: `printf '%s' "say \\"R\\""`, prints: (v) => `say "${v}"` },
  { name: "in a single-quoted word with an escaped '", script: `printf '%s' 'it'"'"'s R'`, prints: (v) => `it's ${v}` },
  { name: 'in a multi-line double-quoted string', script: `printf '%s' "a\nR"`, prints: (v) => `a\n${v}` },
  { name: 'twice in one string around a substitution', script: `printf '%s' "R$(printf x)R"`, prints: (v) => `${v}x${v}` },
  // Command substitution: quoting starts afresh inside it, even within "…" (issue 12, item 4).
  { name: 'the issue: "$(printf %s "R")"', script: `printf '%s\\n' "$(printf '%s' "R")"`, prints: (v) => `${stripped(v)}\n` },
  { name: '"$(… R)" bare inside', script: `printf '%s' "$(printf '%s' R)"`, prints: stripped },
  { name: "\"$(… 'R')\" single-quoted inside", script: `printf '%s' "$(printf '%s' 'R')"`, prints: stripped },
  { name: 'three levels of "$(…)"', script: `printf '%s' "$(printf '%s' "$(printf '%s' "R")")"`, prints: stripped },
  { name: '"`… "R"`" backquotes in double quotes', script: "printf '%s' \"`printf '%s' \"R\"`\"", prints: stripped },
  { name: '"`… R`" bare in backquotes', script: "printf '%s' \"`printf '%s' R`\"", prints: stripped },
  { name: "\"`… 'R'`\" single-quoted in backquotes", script: "printf '%s' \"`printf '%s' 'R'`\"", prints: stripped },
  { name: '"`… \\"R\\"`" escaped quotes in backquotes in double quotes', script: "printf '%s' \"`printf '%s' \\\"R\\\"`\"", prints: stripped },
  { name: '`… \\"R\\"` escaped quotes in bare backquotes', script: "x=`printf '%s' \\\"R\\\"`; printf '%s' \"$x\"", prints: (v) => `"${v}"` },
  { name: 'assignment from backquotes', script: "x=`printf '%s' R`; printf '%s' \"$x\"", prints: stripped },
  { name: 'a subshell in a substitution', script: `printf '%s' "$( (printf '%s' R) )"`, prints: stripped },
  { name: 'a ) in quotes inside a substitution', script: `printf '%s' "$(printf '%s' "a)b" "R")"`, prints: (v) => stripped(`a)b${v}`) },
  { name: 'after a substitution that prints a )', script: `printf '%s' "$(printf '%s' ')')"R`, prints: (v) => `)${v}` },
  { name: 'a comment with a ) inside a substitution', script: `printf '%s' "$(# a comment )\nprintf '%s' "R")"`, prints: stripped },
  { name: 'a case inside a substitution', script: `printf '%s' "$(case x in x) printf '%s' "R";; esac)"`, prints: stripped },
  { name: 'a subshell', script: "(printf '%s' R)" },
  { name: 'a brace group', script: "{ printf '%s' R; }" },
  { name: 'an assignment', script: `x=R; printf '%s' "$x"` },
  { name: 'a double-quoted assignment', script: `x="R"; printf '%s' "$x"` },
  { name: 'a single-quoted assignment', script: `x='R'; printf '%s' "$x"` },
  { name: 'an environment assignment for a command', script: `X=R sh -c 'printf "%s" "$X"'` },
  // Parameter expansion words.
  { name: '${u:-R} unquoted', script: "printf '%s' ${unset_var:-R}" },
  { name: '${u:-"R"} unquoted', script: `printf '%s' \${unset_var:-"R"}` },
  { name: "${u:-'R'} unquoted", script: "printf '%s' ${unset_var:-'R'}" },
  { name: '"${u:-R}"', script: `printf '%s' "\${unset_var:-R}"` },
  { name: '"${u:-"R"}"', script: `printf '%s' "\${unset_var:-"R"}"` },
  { name: `"\${u:-'R'}" (the quotes are plain characters)`, script: `printf '%s' "\${unset_var:-'R'}"`, prints: (v) => `'${v}'` },
  { name: '"${s:+R}"', script: `set_var=x; printf '%s' "\${set_var:+R}"` },
  { name: '"${u-$(… R)}"', script: `printf '%s' "\${unset_var-$(printf '%s' R)}"`, prints: stripped },
  { name: '"${u:-`… R`}"', script: "printf '%s' \"${unset_var:-`printf '%s' R`}\"", prints: stripped },
  { name: 'after ${#u}', script: `printf '%s' "\${#unset_var}"R`, prints: (v) => `0${v}` },
  { name: 'after $((…))', script: "printf '%s' $((1+1))R", prints: (v) => `2${v}` },
  { name: 'after "$h"', script: `h=H; printf '%s' "$h"R`, prints: (v) => `H${v}` },
  // Here-documents with an unquoted delimiter expand; quotes in them are plain characters.
  { name: 'a here-document', script: 'cat <<EOF\nR\nEOF', prints: (v) => `${v}\n` },
  { name: 'a <<- here-document', script: 'cat <<-EOF\n\tline: R\n\tEOF', prints: (v) => `line: ${v}\n` },
  { name: 'quotes in a here-document', script: `cat <<EOF\n"R" 'R'\nEOF`, prints: (v) => `"${v}" '${v}'\n` },
  { name: '$(… R) in a here-document', script: "cat <<EOF\n$(printf '%s' R)\nEOF", prints: (v) => `${stripped(v)}\n` },
  { name: '$(… "R") in a here-document', script: `cat <<EOF\n$(printf '%s' "R")\nEOF`, prints: (v) => `${stripped(v)}\n` },
  { name: 'two here-documents on one line', script: 'cat <<A; cat <<B\nR\nA\nR\nB', prints: (v) => `${v}\n${v}\n` },
  { name: 'after a quoted here-document', script: "cat <<'A'; cat <<B\n$HOME `x` \\\nA\nR\nB", prints: (v) => `$HOME \`x\` \\\n${v}\n` },
  { name: 'a here-document in a substitution', script: `printf '%s' "$(cat <<EOF\nR\nEOF\n)"`, prints: stripped },
  { name: 'after a here-document with quotes in its body', script: "cat >/dev/null <<EOF\nit's \"odd\n(\nEOF\nprintf '%s' R" },
  // Comments, compound commands, arguments.
  { name: "after a comment with ' and \"", script: `# it's a "comment" with R\nprintf '%s' R` },
  { name: 'before a trailing comment', script: "printf '%s' R # trailing ' comment" },
  { name: 'a case branch', script: "case x in x) printf '%s' R;; esac" },
  { name: 'a case pattern matches the value literally', script: `x=R; case "$x" in R) printf ok;; *) printf no;; esac`, prints: () => 'ok' },
  { name: 'a function argument', script: `f() { printf '%s' "$1"; }; f R` },
  { name: 'a for list', script: `for w in R; do printf '%s' "$w"; done` },
  { name: 'one argument: set -- R', script: `set -- R; printf '%s' "$#"`, prints: () => '1' },
  { name: 'one argument among others', script: `set -- a R b; printf '%s' "$#:$2"`, prints: (v) => `3:${v}` },
  { name: 'after a line continuation', script: "printf '%s' \\\n  R" },
  { name: 'if/then', script: "if true; then printf '%s' R; fi" },
  { name: 'a while body', script: "while :; do printf '%s' R; break; done" },
  { name: 'after && and ||', script: "true && printf '%s' R || false" },
  { name: 'a pipeline', script: "printf '%s' R | cat" },
  { name: 'before a redirection', script: `printf '%s' R > "$OUT.tmp"; cat "$OUT.tmp"` },
];

const VALUES = [
  'correct horse battery staple',
  '*',
  'a*b',
  '?',
  '[a]',
  '$HOME',
  '${HOME}',
  '$(id)',
  '`id`',
  "'",
  '"',
  '\\',
  '\\\\',
  '\\n',
  'a\nb',
  'trailing newline\n',
  '\n',
  '-n',
  '-e',
  '--',
  ' ',
  '  leading and trailing  ',
  'tab\there',
  '',
  'ünïcødé 🔐 密码',
  "it's \"quoted\" \\ `all` $(ways)",
  '~',
  '~/x',
  '%s%d',
  'a;b|c&d<e>f',
  'EOF',
  '!x',
  '{a,b}',
  '#hash',
  ')',
  '$',
  '\\$HOME',
  ...randomValues(12),
];

/** Deterministic nasty strings (a fixed seed: a failure is reproducible). */
function randomValues(count: number): string[] {
  const alphabet = [...' *?[]{}$()`\'"\\\n\t;&|<>~#!-=%^,.:/aZ0é🔐'];
  let seed = 12;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => Array.from({ length: 1 + Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-secrets-shell-'));
  // Files a glob would find: a value that got globbed prints their names instead.
  for (const name of ['a', 'b', 'ab', 'axb', '-n', 'x']) await writeFile(join(dir, name), '');
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const SHELLS = [
  ['/bin/sh', ['-c']],
  ['/bin/bash', ['-c']],
] as const;

function run(shell: string, args: readonly string[], script: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(shell, [...args, script], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/home/nobody', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe.each(SHELLS)('secret references run by %s', (shell, args) => {
  it(`expand to exactly the value in ${CONTEXTS.length} contexts × ${VALUES.length} values`, async () => {
    const secrets = new Map(VALUES.map((value, k) => [`S${k}`, value]));
    const mismatches: string[] = [];
    let checked = 0;
    // One shell per context, running the context once per value (each writing its own file).
    await Promise.all(
      CONTEXTS.map(async (context, c) => {
        const blocks: string[] = [];
        const env: Record<string, string> = {};
        VALUES.forEach((_value, k) => {
          const out = join(dir, `out-${c}-${k}`);
          const bound = bindSecrets({ name: context.name, run: context.script.replaceAll('R', `\${{ secrets.S${k} }}`) }, secrets, 'secrets.yml');
          Object.assign(env, bound.env);
          blocks.push(`OUT=${out}\n{\n${bound.run}\n} > ${out}`);
        });
        const { code, stderr } = await run(shell, args, blocks.join('\n'), env);
        if (code !== 0 || stderr) mismatches.push(`${context.name}: exit ${code}, stderr ${JSON.stringify(stderr.slice(0, 300))}`);
        for (const [k, value] of VALUES.entries()) {
          const printed = await readFile(join(dir, `out-${c}-${k}`)).catch(() => Buffer.from('<no output file>'));
          const expected = Buffer.from((context.prints ?? ((v: string) => v))(value), 'utf8');
          checked++;
          if (!printed.equals(expected)) {
            mismatches.push(`${context.name} with ${JSON.stringify(value)}: printed ${JSON.stringify(printed.toString('utf8'))}, expected ${JSON.stringify(expected.toString('utf8'))}`);
          }
        }
      }),
    );
    expect(mismatches).toEqual([]);
    expect(checked).toBe(CONTEXTS.length * VALUES.length);
    // Thousands of shell runs: on a loaded machine this takes a while.
  }, 180_000);
});
