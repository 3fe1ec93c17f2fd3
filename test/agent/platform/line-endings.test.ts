/**
 * Line endings: an instruction file written on Windows (CRLF) parses like its LF twin — the YAML parser turns line
 * breaks in scalars into `\n`, so no `\r` ends up in a command — and a step's CRLF output is streamed as is.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseInstructions } from '../../../config-schema/load-instructions.js';
import { runStep } from '../../../agent/run-step.js';

const FILE = `version: 1
shell: bash
steps:
  - name: build
    run: |
      echo one
      echo two
  - name: check
    shell: sh
    run: >
      test -f a
      && echo folded
    env: { A: "x" }
validate:
  run: echo ok
`;

it('parses a CRLF instruction file exactly like the LF one', () => {
  const lf = parseInstructions(FILE, 'bitenvoy.yml');
  const crlf = parseInstructions(FILE.replaceAll('\n', '\r\n'), 'bitenvoy.yml');
  expect(lf.errors).toEqual([]);
  expect(crlf.errors).toEqual([]);
  expect(crlf.value).toEqual(lf.value);
  expect(crlf.value?.steps[0]?.run).toBe('echo one\necho two\n');
  expect(crlf.value?.shell).toBe('bash');
  expect(crlf.value?.steps[1]?.shell).toBe('sh');
});

it('streams CRLF output of a step as is', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-crlf-'));
  try {
    let out = '';
    await runStep({ command: "printf 'a\\r\\nb\\r\\n'", cwd: dir, env: { PATH: process.env.PATH }, timeoutMs: 5000, onOutput: (_s, t) => (out += t) });
    expect(out).toBe('a\r\nb\r\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('says what to write for a shell it does not know, and where', () => {
  const result = parseInstructions('version: 1\nsteps:\n  - name: build\n    shell: zsh\n    run: make\n', 'bitenvoy.yml');
  expect(result.errors.map((e) => [e.path, e.line, e.message])).toMatchInlineSnapshot(`
    [
      [
        "steps[0].shell",
        4,
        "\`steps[0].shell\`: expected one of \`sh\`, \`bash\`, \`pwsh\`, \`powershell\`, \`cmd\`, got \`zsh\`",
      ],
    ]
  `);
  const top = parseInstructions('version: 1\nshell: powershel\nsteps:\n  - { name: build, run: make }\n', 'bitenvoy.yml');
  expect(top.errors.map((e) => [e.path, e.line, e.message, e.hint])).toMatchInlineSnapshot(`
    [
      [
        "shell",
        2,
        "\`shell\`: expected one of \`sh\`, \`bash\`, \`pwsh\`, \`powershell\`, \`cmd\`, got \`powershel\`",
        undefined,
      ],
    ]
  `);
});
