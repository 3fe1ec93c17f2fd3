import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILT_IN_STRATEGIES, formatIssues, validateConfigDir } from '../../config-schema/validate-config-dir.js';
import { parseInstructions } from '../../config-schema/load-instructions.js';
import { validateYamlFile } from '../../config-schema/validate-yaml-file.js';
import { packageRoot } from '../../lib/package-root.js';

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
          hint: defined: all-at-once, one-at-a-time, careful, waves, canary, regions"
    `);
  });

  it('reports the references a file breaks in the same pass as its schema errors, and references to a broken groups.yml', async () => {
    const dir = await copyOfTemplate();
    await writeFile(join(dir, 'repositories/example/app.yml'), 'environments:\n  staging:\n    branch: main\n    auto: yes-please\n    group: webb\n    after: qa\n');
    await writeFile(join(dir, 'groups.yml'), 'groups:\n  web:\n    selector: { matchLabels: { role: web } }\n  db:\n    selectr: {}\n');
    const { value, errors } = await validateConfigDir(dir);
    expect(value).toBeUndefined();
    expect(formatIssues(errors)).toMatchInlineSnapshot(`
      "groups.yml:5:5: unknown key \`selectr\` in \`groups.db\`; did you mean \`selector\`?
          hint: allowed keys: description, selector
      repositories/example/app.yml:4:11: \`environments.staging.auto\`: expected \`true\` or \`false\`, got \`yes-please\`
          hint: Deploy every new head of \`branch\` once its required checks pass (GitHub mode). Default \`false\`: deploy only when asked (API, CLI, a GitHub deployment).
      repositories/example/app.yml:5:12: environment \`staging\` uses the group \`webb\`, which groups.yml does not define
          hint: defined: web, db
      repositories/example/app.yml:6:12: environment \`staging\` comes after \`qa\`, which is not an environment of example/app
          hint: its environments: staging"
    `);
  });

  it('explains strategy keys that do not fit their type, two failure rules, zero pauses and a bad promotion order', async () => {
    const dir = await copyOfTemplate();
    await writeFile(
      join(dir, 'strategies.yml'),
      [
        'strategies:',
        '  careful:',
        '    type: rolling',
        '    canary: { size: 1 }',
        '    maxFailures: 1',
        '    minHealthy: 90%',
        '    pause: 0s',
        '  regions:',
        '    type: ordered',
        '  bird:',
        '    type: canary',
        '    canary: { size: 1, pause: 0m }',
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'repositories/example/app.yml'), 'environments:\n  staging:\n    branch: main\n    group: web\n    after: qa\n    lockTimeout: 0s\n');
    const { value, errors } = await validateConfigDir(dir);
    expect(value).toBeUndefined();
    expect(formatIssues(errors)).toMatchInlineSnapshot(`
      "strategies.yml:4:13: \`canary\` applies only to \`type: canary\`, and \`careful\` is \`rolling\`
          hint: remove it, or make the type \`canary\`
      strategies.yml:6:17: \`careful\` sets both \`maxFailures\` and \`minHealthy\`
          hint: keep one: they say the same thing two ways
      strategies.yml:7:12: \`pause\` must be longer than zero
          hint: write e.g. \`2m\`
      strategies.yml:9:11: ordered strategy \`regions\` has no \`stages\`
          hint: add e.g. \`stages: [{ matchLabels: { region: eu } }]\`
      strategies.yml:12:13: \`canary.pause\` must be longer than zero
          hint: write e.g. \`10m\` or \`manual\`
      repositories/example/app.yml:5:12: environment \`staging\` comes after \`qa\`, which is not an environment of example/app
          hint: its environments: staging
      repositories/example/app.yml:6:18: environment \`staging\`: lockTimeout must be longer than zero
          hint: write e.g. \`8h\`"
    `);
  });

  it('reports a missing groups.yml and redefined built-ins', async () => {
    const dir = await copyOfTemplate();
    await rm(join(dir, 'groups.yml'));
    await writeFile(join(dir, 'groups.yaml'), 'groups: {}\n');
    await writeFile(join(dir, 'strategies.yml'), 'strategies:\n  all-at-once:\n    type: one-at-a-time\n');
    const { value, errors } = await validateConfigDir(dir);
    expect(value).toBeUndefined();
    expect(formatIssues(errors)).toMatchInlineSnapshot(`
      "groups.yml: file not found
          hint: rename groups.yaml to groups.yml
      strategies.yml:3:5: \`all-at-once\` is a built-in strategy and cannot be redefined
          hint: give yours another name; the built-in one can be used without an entry here
      repositories/example/app.yml:19:15: environment \`production\` uses the strategy \`careful\`, which strategies.yml does not define
          hint: defined: all-at-once, one-at-a-time, all-at-once"
    `);
  });

  it('refuses anything in repositories/ that is not repositories/<owner>/<name>.yml, and a repository twice', async () => {
    const dir = await copyOfTemplate();
    await writeFile(join(dir, 'repositories/shop.yml'), 'environments: {}\n');
    await writeFile(join(dir, 'repositories/example/notes.md'), 'notes\n');
    await writeFile(join(dir, 'repositories/example/.gitkeep'), '');
    await mkdir(join(dir, 'repositories/acme/shop'), { recursive: true });
    await writeFile(join(dir, 'repositories/acme/shop/web.yml'), 'environments: {}\n');
    await cp(join(dir, 'repositories/example/app.yml'), join(dir, 'repositories/example/app.yaml'));
    const { value, errors } = await validateConfigDir(dir);
    expect(value).toBeUndefined();
    expect(formatIssues(errors)).toMatchInlineSnapshot(`
      "repositories/acme/shop/web.yml: not a repository file
          hint: repositories/ holds only files named repositories/<owner>/<name>.yml, e.g. repositories/acme/shop.yml: move or remove this one
      repositories/example/notes.md: not a repository file
          hint: repositories/ holds only files named repositories/<owner>/<name>.yml, e.g. repositories/acme/shop.yml: move or remove this one
      repositories/shop.yml: not a repository file
          hint: repositories/ holds only files named repositories/<owner>/<name>.yml, e.g. repositories/acme/shop.yml: move or remove this one
      repositories/example/app.yml: example/app is already configured by repositories/example/app.yaml
          hint: keep one file per repository"
    `);
  });

  it('accepts a config repo without strategies.yml or repositories/', async () => {
    const dir = await copyOfTemplate();
    await rm(join(dir, 'strategies.yml'));
    await rm(join(dir, 'repositories'), { recursive: true });
    const { value, errors } = await validateConfigDir(dir);
    expect(errors).toEqual([]);
    expect(value).toEqual({ groups: { web: expect.any(Object) }, strategies: BUILT_IN_STRATEGIES, repositories: {} });
  });

  it('collects the errors of every file at once', async () => {
    const dir = await copyOfTemplate();
    await writeFile(join(dir, 'groups.yml'), 'groups:\n  web:\n    selector: { matchLabels: { role: web } }\n    owner: ops\n');
    await writeFile(join(dir, 'repositories/example/app.yml'), 'environments:\n  staging:\n    branch: main\n');
    const { errors } = await validateConfigDir(dir);
    expect(errors.map((e) => `${e.file}:${e.line}`)).toEqual(['groups.yml:4', 'repositories/example/app.yml:3']);
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
