/**
 * Secret references in shell contexts the review of issue 12 found read differently by /bin/sh (dash) and bash: each
 * must either print exactly the value in both shells, or be refused (BE_INSTRUCTIONS_INVALID) — never split or
 * globbed by one of them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bindSecrets } from '../../agent/secrets.js';
import { isErrorCode } from '../../lib/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-secrets-review-'));
  // Files a glob would find: a value that got globbed prints their names instead.
  for (const name of ['a', 'b']) await writeFile(join(dir, name), '');
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const VALUE = 'two  words *';

it.each([
  // bash reads the \" in backquotes inside "${…}" as plain characters (the value is then unquoted), dash as quotes.
  ['\\" in backquotes inside "${u-…}"', "printf '%s' \"${u-`printf '%s' \\\"R\\\"`}\""],
  ['\\" in backquotes inside "${u:+…}"', "s=1; printf '%s' \"${s:+`printf '%s' \\\"R\\\"`}\""],
])('%s: exactly the value in dash and bash, or refused', (_name, script) => {
  let bound: { run: string; env: Record<string, string> };
  try {
    bound = bindSecrets({ name: 'deploy', run: script.replaceAll('R', '${{ secrets.S }}') }, new Map([['S', VALUE]]), 'secrets.yml');
  } catch (err) {
    expect(isErrorCode(err, 'BE_INSTRUCTIONS_INVALID')).toBe(true);
    expect((err as Error).message).toContain('write the command substitution as `$(…)`');
    return;
  }
  for (const shell of ['/bin/sh', '/bin/bash']) {
    const out = spawnSync(shell, ['-c', bound.run], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...bound.env }, encoding: 'utf8' });
    expect({ shell, printed: out.stdout }).toEqual({ shell, printed: VALUE });
  }
});
