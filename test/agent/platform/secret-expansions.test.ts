/**
 * Secret references written for each shell, with hostile values: the value must be used as exactly one literal
 * word, never parsed as code. sh and bash run for real here and print the value back byte for byte; PowerShell runs
 * for real where pwsh is installed (not on this CI machine) and is otherwise checked by what the reference becomes;
 * cmd is checked by what the reference becomes and by what it refuses.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretExpansions } from '../../../agent/platform/secret-expansions.js';
import { findProgram, type ShellName } from '../../../agent/platform/shells.js';
import { runStep } from '../../../agent/run-step.js';
import { bindSecrets } from '../../../agent/secrets.js';

const HOSTILE = ['a&calc', '$(id)', '"; rm -rf /', "it's", '`id`', 'a b  c', '*', 'line1\nline2\n', '%PATH%', '!PATH!', '^&|<>()', '$env:PATH', '-n', '\\', '${{ secrets.S }}', 'ünïcødé ✓'];
const bind = (run: string, shell: ShellName, value = 'v') => bindSecrets({ name: 'deploy', run }, new Map([['S', value]]), 'secrets.yml', shell);
const R = '${{ secrets.S }}';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-secret-shells-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function printed(shell: ShellName, script: string, value: string): Promise<string> {
  const bound = bind(script, shell, value);
  let out = '';
  const result = await runStep({ command: bound.run, shell, cwd: dir, env: { PATH: process.env.PATH, ...bound.env }, timeoutMs: 10_000, onOutput: (stream, t) => (out += stream === 'stdout' ? t : '') });
  expect(result.exitCode).toBe(0);
  return out;
}

describe.each(['sh', 'bash'] as const)('%s, run for real', (shell) => {
  const contexts = [`printf '[%s]' ${R}`, `printf '[%s]' "${R}"`, `printf '[%s]' '${R}'`, `x=${R}; printf '[%s]' "$x"`, `printf '[%s]' "$(printf '%s' ${R})."`];
  it.each(contexts)('%s prints each hostile value exactly', async (script) => {
    const substitution = script.includes('$(');
    for (const value of HOSTILE) {
      const expected = substitution ? `[${value.replace(/\n+$/, '')}.]` : `[${value}]`;
      expect(await printed(shell, script, value), JSON.stringify(value)).toBe(expected);
    }
  });
});

describe('pwsh and powershell', () => {
  const variable = '${env:BITENVOY_SECRET_S}';
  it.each([
    ['bare argument', `Write-Output ${R}`, `Write-Output ${variable}`],
    ['glued in a word', `deploy --token=${R}-x`, `deploy --token=${variable}-x`],
    ['in an expandable string', `"token: ${R}"`, `"token: ${variable}"`],
    ['in $(…) in a string', `"a $(Get-Thing "${R}") b"`, `"a $(Get-Thing "${variable}") b"`],
    ['in a here-string', `@"\nkey=${R}\n"@`, `@"\nkey=${variable}\n"@`],
    ['in an assignment', `$t = ${R}; & ./deploy.exe $t`, `$t = ${variable}; & ./deploy.exe $t`],
    ['after a doubled quote', `"say ""${R}"""`, `"say ""${variable}"""`],
    ['a comment is left as written', `# uses ${R}\nWrite-Output ok`, `# uses ${R}\nWrite-Output ok`],
    ['a block comment too', `<# ${R} #> Write-Output ${R}`, `<# ${R} #> Write-Output ${variable}`],
  ])('%s', (_name, script, expected) => {
    for (const shell of ['pwsh', 'powershell'] as const) expect(bind(script, shell, 'a&calc').run).toBe(expected);
  });

  it.each([
    ['a verbatim string', `Write-Output '${R}'`, 'stands in a single-quoted (verbatim) PowerShell string, where nothing expands; write it in double quotes'],
    ['a verbatim here-string', `@'\n${R}\n'@`, 'stands in a single-quoted (verbatim) PowerShell string'],
    ['typographic single quotes', `Write-Output \u2018${R}\u2019`, 'single-quoted (verbatim)'],
    ['after a backtick', `"\`${R}"`, 'follows a backtick'],
    ['after a bare $', `Write-Output $${R}`, 'follows a bare `$`'],
    ['after --%', `icacls.exe --% ${R}`, 'stands after the stop-parsing token `--%`'],
    ['an unclosed string', `Write-Output "${R}`, 'cannot be placed: the script ends inside a string'],
    ['an unmatched )', `Write-Output ${R})`, 'cannot be placed'],
  ])('refuses a reference in %s', (_name, script, problem) => {
    expect(() => bind(script, 'pwsh')).toThrow(problem);
  });

  const pwsh = findProgram('pwsh', process.env);
  it.skipIf(!pwsh)('pwsh prints each hostile value exactly (where pwsh is installed)', async () => {
    for (const value of HOSTILE) {
      expect(await printed('pwsh', `[Console]::Out.Write("[" + ${R} + "]"); [Console]::Out.Write("[${R}]")`, value)).toBe(`[${value}][${value}]`);
    }
  });
});

describe('cmd', () => {
  it('writes !VAR! (delayed, expanded after the line is parsed), quoted where the reference is unquoted', () => {
    expect(bind(`deploy.exe --token ${R} && echo done`, 'cmd').run).toBe('deploy.exe --token "!BITENVOY_SECRET_S!" && echo done');
    expect(bind(`echo "token: ${R}"`, 'cmd').run).toBe('echo "token: !BITENVOY_SECRET_S!"');
    expect(bind(`set T=${R}&& deploy.exe`, 'cmd').run).toBe('set T="!BITENVOY_SECRET_S!"&& deploy.exe');
    // Never %VAR%: cmd expands that before it parses, so `a&calc` would run calc.
    for (const value of ['a&calc', '$(id)', "it's", '%PATH%', '!PATH!', '^&|<>()']) expect(bind(`echo ${R}`, 'cmd', value).run).not.toContain('%');
  });

  it.each([
    ['after a ^', `echo ^${R}`, 'follows a `^`'],
    ['inside the script’s own %…%', `echo %${R}%`, 'stands next to (or inside) a `%…%` or `!…!`'],
    ['inside the script’s own !…!', `echo !A ${R} B!`, 'stands next to (or inside) a `%…%` or `!…!`'],
    ['on a line with a pipe', `echo ${R} | findstr x`, 'stands on a line with a pipe `|`'],
    ['on a line with call', `call deploy.cmd ${R}`, 'stands on a line with `call`'],
    ['on a line with for', `for %i in (1) do echo ${R}`, 'stands on a line with `for`'],
    ['on a line with cmd', `cmd /c echo ${R}`, 'stands on a line with `cmd`'],
  ])('refuses a reference %s', (_name, script, problem) => {
    expect(() => bind(script, 'cmd')).toThrow(problem);
  });

  it('allows || (not a pipe) and words that only contain call/for', () => {
    expect(bind(`deploy.exe ${R} || echo failed`, 'cmd').run).toBe('deploy.exe "!BITENVOY_SECRET_S!" || echo failed');
    expect(bind(`echo "call me" ${R} format`, 'cmd').run).toBe('echo "call me" "!BITENVOY_SECRET_S!" format');
  });

  it.each([
    ['a double quote', '"; rm -rf /', 'contains a double quote'],
    ['a line break', 'line1\nline2', 'contains a line break'],
  ])('refuses a value with %s, which cmd cannot pass on as one argument', (_name, value, problem) => {
    expect(() => bind(`deploy.exe ${R}`, 'cmd', value)).toThrow(`step \`deploy\`: the value of secrets.S (in secrets.yml) ${problem}`);
  });
});

it('gives every shell the same sites: a comment is left, the rest replaced or refused', () => {
  const kinds = (shell: ShellName, script: string) => secretExpansions(script, shell, (n) => `V_${n}`).map((s) => (s.problem ? 'refused' : (s.text ?? 'comment')));
  expect(kinds('sh', `echo ${R} # ${R}`)).toEqual(['"${V_S}"', 'comment']);
  expect(kinds('pwsh', `echo ${R} # ${R}`)).toEqual(['${env:V_S}', 'comment']);
  expect(kinds('cmd', `echo ${R}`)).toEqual(['"!V_S!"']);
});
