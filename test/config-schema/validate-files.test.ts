import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInstructions } from '../../config-schema/load-instructions.js';
import { formatIssues } from '../../config-schema/validate-config-dir.js';
import { validateYamlFile, type SchemaName } from '../../config-schema/validate-yaml-file.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'config');

async function check(file: string): Promise<string> {
  const text = await readFile(join(fixtures, file), 'utf8');
  const schema = file.split('-')[0] as SchemaName;
  const result = schema === 'instructions' ? parseInstructions(text, file) : validateYamlFile(text, schema, file);
  expect(result.value).toBeUndefined();
  return formatIssues(result.errors);
}

describe('what a person sees for a bad config file', () => {
  it.each([
    ['groups-with-unknown-operator.yml'],
    ['groups-with-bad-name.yml'],
    ['groups-with-duplicate-key.yml'],
    ['groups-with-syntax-error.yml'],
    ['repository-with-typo-key.yml'],
    ['repository-with-bad-strategy-name.yml'],
    ['repository-without-environments.yml'],
    ['instructions-with-bad-timeout.yml'],
    ['instructions-with-wrong-version.yml'],
    ['instructions-with-step-after-switch.yml'],
    ['instructions-with-bad-secret-reference.yml'],
  ])('%s', async (file) => {
    expect(await check(file)).toMatchSnapshot();
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
    expect(value?.environments.staging?.strategy).toBe('all-at-once');
  });

  it('refuses files larger than the cap without parsing them', () => {
    const { errors } = validateYamlFile('#'.repeat(300 * 1024), 'groups', 'groups.yml');
    expect(errors[0]?.message).toMatch(/larger than 256 KiB/);
  });
});
