/**
 * What a person sees for each bad config file: one named fixture per mistake, with the exact message, line and
 * column inline, so a change to any message shows up in review.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PATTERN_WORDS } from '../../config-schema/describe-schema-error.js';
import { parseInstructions, secretReferences } from '../../config-schema/load-instructions.js';
import { formatIssues } from '../../config-schema/validate-config-dir.js';
import { SCHEMAS, validateYamlFile, type SchemaName } from '../../config-schema/validate-yaml-file.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'config');

/** The fixture's schema is the first word of its name: `groups-with-…` is a groups.yml. */
async function check(file: string): Promise<string> {
  const text = await readFile(join(fixtures, file), 'utf8');
  const schema = file.split('-')[0] as SchemaName;
  expect(Object.keys(SCHEMAS)).toContain(schema);
  const result = schema === 'instructions' ? parseInstructions(text, file) : validateYamlFile(text, schema, file);
  expect(result.value).toBeUndefined();
  expect(result.errors.length).toBeGreaterThan(0);
  return formatIssues(result.errors);
}

describe('what a person sees for a bad config file', () => {
  it('agent-with-bad-allowlist.yml', async () => {
    expect(await check('agent-with-bad-allowlist.yml')).toMatchInlineSnapshot(`
      "agent-with-bad-allowlist.yml:2:18: \`allow.repositories[0]\`: expected \`owner/name\` or \`owner/*\`, got \`acme\`
      agent-with-bad-allowlist.yml:3:15: \`keepReleases\`: expected a whole number from 1 to 100, got \`0\`"
    `);
  });

  it('agent-with-bad-git-pins.yml', async () => {
    expect(await check('agent-with-bad-git-pins.yml')).toMatchInlineSnapshot(`
      "agent-with-bad-git-pins.yml:2:17: \`allow.gitBaseUrls[0]\`: expected a git base URL like \`https://github.com/\` or \`ssh://git@git.example.com/scm/\` (no password, query, fragment or \`%\`), or an absolute path, got \`https://x-access-token:ghs_1@github.com/\`
      agent-with-bad-git-pins.yml:2:61: \`allow.gitBaseUrls[1]\`: expected a git base URL like \`https://github.com/\` or \`ssh://git@git.example.com/scm/\` (no password, query, fragment or \`%\`), or an absolute path, got \`https://github.com/acme?x=1\`
      agent-with-bad-git-pins.yml:3:20: \`allow.branches[1]\`: expected a branch name like \`main\`, or a prefix ending in \`*\` like \`release/*\` (nothing under \`refs/\`), got \`release/*/hotfix\`"
    `);
  });

  it('groups-with-bad-label-value.yml', async () => {
    expect(await check('groups-with-bad-label-value.yml')).toMatchInlineSnapshot(`
      "groups-with-bad-label-value.yml:5:15: \`groups.web.selector.matchLabels.role\`: expected a label value made of letters, digits, \`.\`, \`_\` and \`-\`, got \`web server\`
          hint: A label value: up to 63 letters, digits, \`.\`, \`_\` and \`-\`."
    `);
  });

  it('groups-with-bad-name.yml', async () => {
    expect(await check('groups-with-bad-name.yml')).toMatchInlineSnapshot(`"groups-with-bad-name.yml:2:3: \`groups\`: expected a name made of lowercase letters, digits and dashes, got \`Web Servers\`"`);
  });

  it('groups-with-duplicate-key.yml', async () => {
    expect(await check('groups-with-duplicate-key.yml')).toMatchInlineSnapshot(`
      "groups-with-duplicate-key.yml:4:3: the key \`web\` appears twice in the same mapping
          hint: keep one of them: YAML keys must be unique"
    `);
  });

  it('groups-with-operator-values-mismatch.yml', async () => {
    expect(await check('groups-with-operator-values-mismatch.yml')).toMatchInlineSnapshot(`
      "groups-with-operator-values-mismatch.yml:5:11: \`groups.web.selector.matchExpressions[0]\`: operator \`In\` needs at least one value in \`values\`
          hint: list the values, e.g. \`values: [web]\`, or use \`Exists\` to test only for the key
      groups-with-operator-values-mismatch.yml:9:19: \`groups.web.selector.matchExpressions[1]\`: operator \`Exists\` takes no \`values\`
          hint: remove \`values\`, or use \`In\` to compare the value"
    `);
  });

  it('groups-with-syntax-error.yml', async () => {
    expect(await check('groups-with-syntax-error.yml')).toMatchInlineSnapshot(`
      "groups-with-syntax-error.yml:4:1: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }
          hint: check indentation, quotes and colons on this line"
    `);
  });

  it('groups-with-typo-key.yml', async () => {
    expect(await check('groups-with-typo-key.yml')).toMatchInlineSnapshot(`
      "groups-with-typo-key.yml:3:5: unknown key \`selectr\` in \`groups.web\`; did you mean \`selector\`?
          hint: allowed keys: description, selector"
    `);
  });

  it('groups-with-unknown-operator.yml', async () => {
    expect(await check('groups-with-unknown-operator.yml')).toMatchInlineSnapshot(`"groups-with-unknown-operator.yml:6:21: \`groups.web.selector.matchExpressions[0].operator\`: expected one of \`In\`, \`NotIn\`, \`Exists\`, \`DoesNotExist\`, got \`Near\`"`);
  });

  it('instructions-with-bad-env-name.yml', async () => {
    expect(await check('instructions-with-bad-env-name.yml')).toMatchInlineSnapshot(`"instructions-with-bad-env-name.yml:6:7: \`steps[0].env\`: expected an environment variable name (letters, digits and \`_\`, not starting with a digit), got \`DATABASE-URL\`"`);
  });

  it('instructions-with-bad-secret-reference.yml', async () => {
    expect(await check('instructions-with-bad-secret-reference.yml')).toMatchInlineSnapshot(`
      "instructions-with-bad-secret-reference.yml:6:21: \`\${{ secret.DB_URL }}\` is not a secret reference
          hint: the only expression is \`\${{ secrets.NAME }}\`, with a NAME of letters, digits and underscores"
    `);
  });

  it('instructions-with-bad-timeout.yml', async () => {
    expect(await check('instructions-with-bad-timeout.yml')).toMatchInlineSnapshot(`
      "instructions-with-bad-timeout.yml:5:14: \`steps[0].timeout\`: expected a whole number from 1 to 86400 or a duration like \`90s\`, \`10m\` or \`1h\`, got \`ten minutes\`
          hint: How long the step may run before its process group is killed: seconds, or a duration like \`90s\`, \`10m\`, \`1h\`. Default \`30m\`."
    `);
  });

  it('instructions-with-step-after-switch.yml', async () => {
    expect(await check('instructions-with-step-after-switch.yml')).toMatchInlineSnapshot(`
      "instructions-with-step-after-switch.yml:6:5: step \`migrate\` runs before the switch but comes after \`restart\`, which is marked \`afterSwitch\`
          hint: move every afterSwitch step to the end of the list"
    `);
  });

  it('instructions-with-unclosed-expression.yml', async () => {
    expect(await check('instructions-with-unclosed-expression.yml')).toMatchInlineSnapshot(`
      "instructions-with-unclosed-expression.yml:4:10: \`\${{ secrets.DB_URL" ./migrate\` opens an expression that is never closed with \`}}\`
          hint: write \`\${{ secrets.NAME }}\`"
    `);
  });

  it('instructions-with-zero-timeout.yml', async () => {
    expect(await check('instructions-with-zero-timeout.yml')).toMatchInlineSnapshot(`
      "instructions-with-zero-timeout.yml:5:14: \`steps[0].timeout\`: a timeout must be longer than zero
          hint: write e.g. \`90s\`, \`10m\` or \`1h\`"
    `);
  });

  it('instructions-with-wrong-version.yml', async () => {
    expect(await check('instructions-with-wrong-version.yml')).toMatchInlineSnapshot(`
      "instructions-with-wrong-version.yml:1:10: \`version\`: expected \`1\`, got \`2\`
          hint: The instruction file format version. Always \`1\`."
    `);
  });

  it('instructions-without-steps.yml', async () => {
    expect(await check('instructions-without-steps.yml')).toMatchInlineSnapshot(`
      "instructions-without-steps.yml:2:8: \`steps\` must not be empty
          hint: The steps, run one after another; the first that fails stops the deployment on this server."
    `);
  });

  it('repository-with-bad-strategy-name.yml', async () => {
    expect(await check('repository-with-bad-strategy-name.yml')).toMatchInlineSnapshot(`
      "repository-with-bad-strategy-name.yml:5:15: \`environments.staging.strategy\`: expected a name made of lowercase letters, digits and dashes, got \`Fast Lane\`
          hint: The rollout strategy: a name from \`strategies.yml\`, or the built-in \`all-at-once\` (default) or \`one-at-a-time\`."
    `);
  });

  it('repository-with-bad-urls.yml', async () => {
    expect(await check('repository-with-bad-urls.yml')).toMatchInlineSnapshot(`
      "repository-with-bad-urls.yml:1:6: \`git\`: expected an \`http(s)://\`, \`git://\`, \`ssh://\` or \`file://\` URL, or an absolute path, got \`git@github.com:acme/shop.git\`
          hint: Where the application's git repository lives, for agents to fetch from in local mode: an \`http(s)://\`, \`git://\`, \`ssh://\` URL or an absolute path, e.g. \`https://git.example.com/acme/shop.git\`.
      repository-with-bad-urls.yml:6:10: \`environments.staging.url\`: expected an absolute URL like \`https://staging.example.com\`, got \`staging.example.com\`
          hint: Where people reach the deployed environment, e.g. \`https://staging.example.com\`."
    `);
  });

  it('repository-with-typo-key.yml', async () => {
    expect(await check('repository-with-typo-key.yml')).toMatchInlineSnapshot(`
      "repository-with-typo-key.yml:3:5: unknown key \`brnch\` in \`environments.staging\`; did you mean \`branch\`?
          hint: allowed keys: branch, group, strategy, url, auto, requiredChecks, checksTimeout, productionEnvironment, transientEnvironment, deployers, allowForks, allowDrafts, forceUsers, after, lockTimeout"
    `);
  });

  it('repository-without-environments.yml', async () => {
    expect(await check('repository-without-environments.yml')).toMatchInlineSnapshot(`
      "repository-without-environments.yml:1:1: the file is missing the required key \`environments\`
          hint: add \`environments:\` (Environment name → where and how it deploys, e.g. \`staging\`, \`production\`.)"
    `);
  });

  it('strategies-with-list-instead-of-mapping.yml', async () => {
    expect(await check('strategies-with-list-instead-of-mapping.yml')).toMatchInlineSnapshot(`
      "strategies-with-list-instead-of-mapping.yml:2:3: \`strategies\`: expected a mapping of keys to values, got a list
          hint: Strategy name → strategy. Names are lowercase letters, digits and dashes, e.g. \`careful\`."
    `);
  });

  it('strategies-with-unknown-type.yml', async () => {
    expect(await check('strategies-with-unknown-type.yml')).toMatchInlineSnapshot(`"strategies-with-unknown-type.yml:3:11: \`strategies.careful.type\`: expected one of \`all-at-once\`, \`one-at-a-time\`, \`rolling\`, \`canary\`, \`ordered\`, got \`blue-green\`"`);
  });

  it('strategies-with-bad-batch-size.yml', async () => {
    expect(await check('strategies-with-bad-batch-size.yml')).toMatchInlineSnapshot(`
      "strategies-with-bad-batch-size.yml:4:16: \`strategies.wave.batchSize\`: expected a whole number from 1 to 100000 or a percentage from \`1%\` to \`100%\`, got \`150%\`
      strategies-with-bad-batch-size.yml:5:18: \`strategies.wave.maxFailures\`: expected a whole number from 0 to 100000 or a percentage from \`0%\` to \`100%\`, got \`-1\`"
    `);
  });

  it('instructions-with-bad-validate.yml', async () => {
    expect(await check('instructions-with-bad-validate.yml')).toMatchInlineSnapshot(`
      "instructions-with-bad-validate.yml:6:3: \`validate\` needs exactly one of \`run\` (a command) or \`http\` (a URL to ask)
          hint: e.g. \`validate: { http: { url: http://localhost:8080/health } }\`
      instructions-with-bad-validate.yml:8:12: \`validate.timeout\` must be longer than zero
          hint: write e.g. \`90s\` or \`2m\`"
    `);
  });

  it('has a test for every fixture', async () => {
    const source = await readFile(import.meta.filename, 'utf8');
    for (const file of await readdir(fixtures)) expect(source).toContain(`check('${file}')`);
  });

  it('repository-with-bad-auto-deploy.yml', async () => {
    expect(await check('repository-with-bad-auto-deploy.yml')).toMatchInlineSnapshot(`
      "repository-with-bad-auto-deploy.yml:5:11: \`environments.staging.auto\`: expected \`true\` or \`false\`, got \`yes please\`
          hint: Deploy every new head of \`branch\` once its required checks pass (GitHub mode). Default \`false\`: deploy only when asked (API, CLI, a GitHub deployment).
      repository-with-bad-auto-deploy.yml:6:21: \`environments.staging.requiredChecks\`: expected \`all\` or a list, got \`test\`
          hint: The checks that must pass before an automatic deployment: names of check runs or commit-status contexts, e.g. \`[test, lint]\`, or \`all\` for every check run and status reported on the commit. Default \`all\`. Success, neutral and skipped pass; the newest run of each name counts."
    `);
  });
});

describe('valid files', () => {
  it('applies schema defaults', () => {
    const { value, errors } = validateYamlFile<{ environments: Record<string, { strategy?: string }> }>(
      'environments:\n  staging:\n    branch: main\n    group: web\n',
      'repository',
      'repositories/acme/shop.yml',
    );
    expect(errors).toEqual([]);
    expect(value).toEqual({
      instructions: 'bitenvoy.yml',
      environments: {
        staging: { branch: 'main', group: 'web', strategy: 'all-at-once', auto: false, requiredChecks: 'all', checksTimeout: '1h', transientEnvironment: false, allowForks: false, allowDrafts: false },
      },
    });
    const agent = validateYamlFile('{}\n', 'agent', 'agent.yml');
    expect(agent.value).toEqual({ keepReleases: 5, secretsFile: 'secrets.yml' });
  });

  it('refuses files larger than the cap without parsing them', () => {
    const { errors } = validateYamlFile('#'.repeat(300 * 1024), 'groups', 'groups.yml');
    expect(formatIssues(errors)).toMatchInlineSnapshot(`
      "groups.yml: file is 300 KiB, larger than the 256 KiB a config file may be
          hint: split it or remove what is not needed"
    `);
  });

  it('reports an empty file by the keys it lacks', () => {
    expect(formatIssues(validateYamlFile('', 'groups', 'groups.yml').errors)).toMatchInlineSnapshot(`
      "groups.yml: the file is missing the required key \`groups\`
          hint: add \`groups:\` (Group name → group. Names are lowercase letters, digits and dashes, e.g. \`web-eu\`.)"
    `);
  });

  it('takes raw cloud tag keys and values under cloud.*, and only there', () => {
    const cloud = 'groups:\n  web:\n    selector:\n      matchLabels: { "cloud.tag.Name": "shop web 1" }\n      matchExpressions:\n        - { key: "cloud.tag.aws:autoscaling:groupName", operator: In, values: ["shop prod", "shop/canary"] }\n        - { key: cloud.region, operator: NotIn, values: [us-east-1] }\n';
    expect(validateYamlFile(cloud, 'groups', 'groups.yml').errors).toEqual([]);
    const plain = 'groups:\n  web:\n    selector:\n      matchExpressions:\n        - { key: "role:x", operator: In, values: ["shop prod"] }\n';
    expect(validateYamlFile(plain, 'groups', 'groups.yml').errors.map((e) => e.path).sort()).toEqual(['groups.web.selector.matchExpressions[0].key', 'groups.web.selector.matchExpressions[0].values[0]']);
  });

  it('accepts well-formed selectors and secret references', () => {
    const groups = 'groups:\n  web:\n    selector:\n      matchExpressions:\n        - { key: env, operator: NotIn, values: [prod] }\n        - { key: canary, operator: DoesNotExist }\n';
    expect(validateYamlFile(groups, 'groups', 'groups.yml').errors).toEqual([]);
    const text = 'version: 1\nsteps:\n  - name: migrate\n    run: echo ${{secrets.A}} ${{ secrets.B }}\n    env: { URL: "${{ secrets.A }}", C: "${{  secrets.C_1 }}" }\n    afterSwitch: false\n  - { name: restart, run: x, afterSwitch: true }\n';
    const { value, errors } = parseInstructions(text, 'bitenvoy.yml');
    expect(errors).toEqual([]);
    expect(secretReferences(value!.steps[0]!)).toEqual(['A', 'B', 'C_1']);
    expect(secretReferences(value!.steps[1]!)).toEqual([]);
  });

  it('checks rollback steps like steps, and refuses afterSwitch there', () => {
    const text = 'version: 1\nsteps:\n  - { name: build, run: make }\nrollback:\n  - name: restart\n    run: restart ${{ secrets.TOKEN\n    timeout: 0s\n    afterSwitch: true\n';
    expect(formatIssues(parseInstructions(text, 'bitenvoy.yml').errors)).toMatchInlineSnapshot(`
      "bitenvoy.yml:8:18: rollback step \`restart\` has \`afterSwitch\`, but every rollback step runs after \`current\` is switched back
          hint: remove \`afterSwitch\` from it
      bitenvoy.yml:7:14: \`rollback[0].timeout\`: a timeout must be longer than zero
          hint: write e.g. \`90s\`, \`10m\` or \`1h\`
      bitenvoy.yml:6:10: \`\${{ secrets.TOKEN\` opens an expression that is never closed with \`}}\`
          hint: write \`\${{ secrets.NAME }}\`"
    `);
  });
});

describe('messages', () => {
  it('says every schema pattern in words', () => {
    const patterns = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === 'pattern' && typeof value === 'string') patterns.add(value);
          else walk(value);
        }
      }
    };
    walk(Object.values(SCHEMAS));
    expect([...patterns].filter((p) => !(p in PATTERN_WORDS))).toEqual([]);
  });
});
