import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatIssues, validateConfigDir } from '../../config-schema/validate-config-dir.js';
import { parseInstructions } from '../../config-schema/load-instructions.js';
import { validateYamlFile } from '../../config-schema/validate-yaml-file.js';
import { packageRoot } from '../../lib/package-root.js';
import { readFile } from 'node:fs/promises';

const templates = join(packageRoot(), 'templates');
const dirs: string[] = [];
async function copyOfTemplate(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-config-'));
  dirs.push(dir);
  await cp(join(templates, 'config-repo'), dir, { recursive: true });
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('validateConfigDir', () => {
  it('accepts the starter config repo and resolves it', async () => {
    const { value, errors } = await validateConfigDir(join(templates, 'config-repo'));
    expect(errors).toEqual([]);
    expect(Object.keys(value!.repositories)).toEqual(['example/app']);
    expect(value!.repositories['example/app']!.instructions).toBe('bitenvoy.yml');
    expect(Object.keys(value!.strategies)).toEqual(expect.arrayContaining(['all-at-once', 'one-at-a-time', 'careful']));
  });

  it('names an unknown group and strategy with file, line and the defined ones', async () => {
    const dir = await copyOfTemplate();
    await writeFile(join(dir, 'repositories/example/app.yml'), 'environments:\n  staging:\n    branch: main\n    group: db\n    strategy: yolo\n');
    const { value, errors } = await validateConfigDir(dir);
    expect(value).toBeUndefined();
    expect(formatIssues(errors)).toMatchInlineSnapshot(`
      "repositories/example/app.yml:4:12: environment \`staging\` uses the group \`db\`, which groups.yml does not define
          hint: defined: web
      repositories/example/app.yml:5:15: environment \`staging\` uses the strategy \`yolo\`, which strategies.yml does not define
          hint: defined: all-at-once, one-at-a-time, careful"
    `);
  });

  it('reports a missing groups.yml, misplaced files and redefined built-ins', async () => {
    const dir = await copyOfTemplate();
    await rm(join(dir, 'groups.yml'));
    await writeFile(join(dir, 'repositories/shop.yml'), 'environments: {}\n');
    await writeFile(join(dir, 'strategies.yml'), 'strategies:\n  all-at-once:\n    type: one-at-a-time\n');
    const { errors } = await validateConfigDir(dir);
    expect(errors.map((e) => e.message)).toEqual([
      'groups.yml is missing',
      '`all-at-once` is a built-in strategy and cannot be redefined',
      'repositories/shop.yml is not where repository files go',
    ]);
  });
});

describe('starter files', () => {
  it('templates/bitenvoy.yml is a valid instruction file', async () => {
    const result = parseInstructions(await readFile(join(templates, 'bitenvoy.yml'), 'utf8'), 'bitenvoy.yml');
    expect(result.errors).toEqual([]);
    expect(result.value!.steps.map((s) => s.name)).toEqual(['install', 'migrate', 'restart']);
  });

  it('templates/agent.yml is a valid agent config', async () => {
    const result = validateYamlFile(await readFile(join(templates, 'agent.yml'), 'utf8'), 'agent', 'agent.yml');
    expect(result.errors).toEqual([]);
  });
});
