/**
 * bindSecrets() where no expansion can yield the value as text, or where the scanner cannot be sure how the shell
 * reads the script: a clear BE_INSTRUCTIONS_INVALID error saying how to write it instead, never a guess. (That what
 * it does expand prints exactly the value is proved against real shells in secrets-shell.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { findSecretReferences } from '../../agent/find-secret-references.js';
import { bindSecrets } from '../../agent/secrets.js';
import { BitEnvoyError } from '../../lib/errors.js';

const secrets = new Map([['X', 'correct horse battery staple']]);
const bind = (run: string) => bindSecrets({ name: 'deploy', run }, secrets, 'secrets.yml');
const R = '${{ secrets.X }}';

describe('references bindSecrets refuses, saying how to write them instead', () => {
  const QUOTED_HEREDOC =
    'stands in a here-document whose delimiter is quoted, where nothing expands; write the delimiter unquoted (`<<EOF`) and escape any other `$`, `` ` `` and `\\` in the body as `\\$`, `` \\` `` and `\\\\`';
  const NOT_AS_TEXT =
    'stands inside `${…}` where the value would be used as a variable name, a pattern or a number, not as text; only the words of `${v:-…}`, `${v:=…}`, `${v:+…}` and `${v:?…}` can hold one — or assign it to a variable first (`v=${{ secrets.X }}`) and use `$v`';
  const ARITHMETIC = 'stands inside arithmetic (`$((…))` or `((…))`), where the shell would evaluate the value as an expression instead of using it as text; use it outside the arithmetic';
  const cases: Array<[string, string, string]> = [
    ["a here-document with a '…' delimiter", `cat <<'EOF' > app.env\ntoken=${R}\nEOF`, `line 2 of \`run\` ${QUOTED_HEREDOC}`],
    ['a here-document with a "…" delimiter', `cat <<"EOF"\n${R}\nEOF`, `line 2 of \`run\` ${QUOTED_HEREDOC}`],
    ['a here-document with a \\ delimiter, after an unquoted one', `cat <<A; cat <<\\B\nfine\nA\n${R}\nB`, `line 4 of \`run\` ${QUOTED_HEREDOC}`],
    ['a here-document with a partly quoted delimiter', `cat <<-E"O"F\n\t${R}\n\tEOF`, `line 2 of \`run\` ${QUOTED_HEREDOC}`],
    ['the delimiter itself', `cat <<${R}\nx\n`, 'line 1 of `run` is part of a here-document delimiter, which the shell never expands; a delimiter is a fixed word like `EOF`'],
    ["$'…'", `printf '%s' $'a\\t${R}'`, "line 1 of `run` stands inside `$'…'`, which /bin/sh (dash) and bash read differently (dash keeps the `$` and the backslashes); close the string before it, as in `$'…'\"${{ secrets.X }}\"`"],
    [
      "anything after a $'…' with \\' in it",
      `printf '%s' $'it\\'s'\nprintf '%s' ${R}`,
      "line 2 of `run` cannot be placed: the `$'…'` string at line 1 ends in different places for /bin/sh (dash) and bash (they read `\\'` differently); write that string without `\\'`, as in \"it's\"",
    ],
    ['arithmetic', `echo $((${R} + 1))`, `line 1 of \`run\` ${ARITHMETIC}`],
    ['arithmetic through quotes', `echo $(( "${R}" ))`, `line 1 of \`run\` ${ARITHMETIC}`],
    ['a bash arithmetic command', `((n = ${R}))`, `line 1 of \`run\` ${ARITHMETIC}`],
    ['a ${…} name', `echo \${${R}}`, `line 1 of \`run\` ${NOT_AS_TEXT}`],
    ['a ${…} pattern', `echo "\${path#${R}}"`, `line 1 of \`run\` ${NOT_AS_TEXT}`],
    ['a ${…} substring', `echo "\${path:${R}}"`, `line 1 of \`run\` ${NOT_AS_TEXT}`],
    ['after a backslash', `echo \\${R}`, 'line 1 of `run` follows a backslash, so the shell would print it as written instead of expanding it; remove the backslash'],
    ['after a backslash in double quotes', `echo "x\\${R}"`, 'line 1 of `run` follows a backslash, so the shell would print it as written instead of expanding it; remove the backslash'],
    ['after a bare $', `echo "$${R}"`, 'line 1 of `run` follows a bare `$`, which would join it into another expansion; write `\\$` for a literal `$`'],
    ['nested backquotes', `echo \`echo \\\`echo ${R}\\\`\``, 'line 1 of `run` stands inside nested backquotes (`` `…\\`…\\`…` ``), which are read twice; write the command substitutions as `$(…)` instead'],
    ['an unclosed quote', `echo "${R}`, 'line 1 of `run` cannot be placed: the script ends inside a double-quoted string opened at line 1, so the shell would not read it as written; close it'],
    ['an unclosed substitution', `echo "$(printf %s ${R}"`, 'line 1 of `run` cannot be placed: the script ends inside a double-quoted string opened at line 1, so the shell would not read it as written; close it'],
    ['after an unmatched )', `echo x)\necho ${R}`, 'line 2 of `run` cannot be placed: there is an unmatched `)` at line 1, so the scanner cannot tell how the shell reads what follows; balance the parentheses'],
  ];
  it.each(cases)('%s', (_name, run, problem) => {
    const err = (() => {
      try {
        bind(run);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(BitEnvoyError);
    expect(err).toMatchObject({ code: 'BE_INSTRUCTIONS_INVALID', message: `step \`deploy\`: \`\${{ secrets.X }}\` at ${problem}` });
  });
});

describe('references bindSecrets rewrites', () => {
  it('writes each expansion for the shell context it stands in', () => {
    expect(bind(`echo "$(printf '%s' "${R}")"`).run).toBe(`echo "$(printf '%s' "\${BITENVOY_SECRET_X}")"`);
    expect(bind(`echo "$(printf '%s' ${R})"`).run).toBe(`echo "$(printf '%s' "\${BITENVOY_SECRET_X}")"`);
    expect(bind(`echo "\`printf '%s' '${R}'\`"`).run).toBe(`echo "\`printf '%s' ''"\${BITENVOY_SECRET_X}"''\`"`);
    expect(bind(`echo \${u:-${R}} "\${u:-${R}}"`).run).toBe('echo ${u:-"${BITENVOY_SECRET_X}"} "${u:-${BITENVOY_SECRET_X}}"');
    expect(bind(`cat <<EOF\n"${R}" $(printf %s ${R})\nEOF\necho ${R}`).run).toBe(
      'cat <<EOF\n"${BITENVOY_SECRET_X}" $(printf %s "${BITENVOY_SECRET_X}")\nEOF\necho "${BITENVOY_SECRET_X}"',
    );
  });

  it('leaves a reference in a comment as written, and does not need its secret', () => {
    const bound = bind(`# uses \${{ secrets.NOT_HERE }} (it's "old")\necho ${R} # and ${R}`);
    expect(bound.run).toBe(`# uses \${{ secrets.NOT_HERE }} (it's "old")\necho "\${BITENVOY_SECRET_X}" # and ${R}`);
    expect(bound.env).toEqual({ BITENVOY_SECRET_X: 'correct horse battery staple' });
  });

  it('runs a script without references exactly as written, however odd (it is not scanned)', () => {
    for (const run of ['echo "unclosed', "printf $'it\\'s'", 'echo x)']) expect(bind(run).run).toBe(run);
  });

  it('writes the expansion for the step’s shell: its own `shell`, or the one given', () => {
    const step = { name: 'deploy', run: `deploy --token ${R}` };
    expect(bindSecrets({ ...step, shell: 'pwsh' }, secrets, 'secrets.yml').run).toBe('deploy --token ${env:BITENVOY_SECRET_X}');
    expect(bindSecrets(step, secrets, 'secrets.yml', 'powershell').run).toBe('deploy --token ${env:BITENVOY_SECRET_X}');
    expect(bindSecrets(step, secrets, 'secrets.yml', 'cmd').run).toBe('deploy --token "!BITENVOY_SECRET_X!"');
    expect(bindSecrets({ ...step, shell: 'bash' }, secrets, 'secrets.yml').run).toBe('deploy --token "${BITENVOY_SECRET_X}"');
    expect(bindSecrets(step, secrets, 'secrets.yml').run).toBe('deploy --token "${BITENVOY_SECRET_X}"');
  });

  it('tells where each reference stands', () => {
    expect(findSecretReferences(`a ${R}\n"${R}" '${R}'\n# ${R}`).map((s) => [s.line, s.place.kind])).toEqual([
      [1, 'unquoted'],
      [2, 'double'],
      [2, 'single'],
      [3, 'comment'],
    ]);
  });
});
