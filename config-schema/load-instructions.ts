/**
 * Parses and checks an instruction file (`bitenvoy.yml`): the schema, plus what a schema cannot say — steps that
 * run after the `current` switch come last, and every `${{ … }}` is a well-formed secret reference. No file system
 * access: the agent reads the file, this judges it.
 *
 * @example
 * const { value, errors } = parseInstructions(text, 'bitenvoy.yml');
 * if (value) secretReferences(value.steps[1]); // ['DATABASE_URL']
 */
import { parseDuration } from '../lib/parse-duration.js';
import type { InstructionFile, Step } from './types.generated.js';
import { checkArtifacts } from './check-artifacts.js';
import { SECRET_REFERENCE } from './secret-reference.js';
import { validateYamlFile, type ConfigIssue, type ValidationResult } from './validate-yaml-file.js';
import { dottedPath, positionOf } from './yaml-position.js';

export { SECRET_REFERENCE };

/** Anything written as an expression: `${{` up to the next `}}`, or to the end when it is never closed. */
const ANY_EXPRESSION = /\$\{\{(.*?)(\}\}|$)/gs;
const WELL_FORMED = /^\s*secrets\.[A-Za-z_][A-Za-z0-9_]*\s*$/;

/**
 * Validates an instruction file's text; `file` only labels the issues.
 *
 * @example
 * parseInstructions('version: 1\nsteps:\n  - { name: build, run: make }\n', 'bitenvoy.yml').value?.steps.length; // 1
 */
export function parseInstructions(text: string, file: string): ValidationResult<InstructionFile> {
  const result = validateYamlFile<InstructionFile>(text, 'instructions', file);
  if (!result.value) return result;
  const errors: ConfigIssue[] = [];
  const issue = (segments: string[], message: string, hint: string) =>
    errors.push({ file, path: dottedPath(segments), ...positionOf(text, segments), message, hint });

  const validate = result.value.validate;
  if (validate) {
    const where = (key: string) => ({ path: `validate${key ? `.${key}` : ''}`, ...positionOf(text, ['validate', ...(key ? [key] : [])]) });
    if ((validate.run === undefined) === (validate.http === undefined)) {
      errors.push({ file, ...where(''), message: '`validate` needs exactly one of `run` (a command) or `http` (a URL to ask)', hint: 'e.g. `validate: { http: { url: http://localhost:8080/health } }`' });
    }
    for (const key of ['timeout', 'interval'] as const) {
      const value = validate[key];
      if (value === undefined) continue;
      try {
        parseDuration(value);
      } catch {
        errors.push({ file, ...where(key), message: `\`validate.${key}\` must be longer than zero`, hint: 'write e.g. `90s` or `2m`' });
      }
    }
  }
  for (const found of checkArtifacts(result.value)) issue(found.segments, found.message, found.hint);
  const firstAfterSwitch = result.value.steps.findIndex((s) => s.afterSwitch);
  result.value.steps.forEach((step, index) => {
    if (firstAfterSwitch >= 0 && index > firstAfterSwitch && !step.afterSwitch) {
      const first = result.value!.steps[firstAfterSwitch]!.name;
      issue(
        ['steps', String(index)],
        `step \`${step.name}\` runs before the switch but comes after \`${first}\`, which is marked \`afterSwitch\``,
        'move every afterSwitch step to the end of the list',
      );
    }
  });
  (result.value.rollback ?? []).forEach((step, index) => {
    if (step.afterSwitch !== undefined) {
      issue(['rollback', String(index), 'afterSwitch'], `rollback step \`${step.name}\` has \`afterSwitch\`, but every rollback step runs after \`current\` is switched back`, 'remove `afterSwitch` from it');
    }
  });
  const everyStep = [...result.value.steps.map((step, index) => ({ step, at: ['steps', String(index)] })), ...(result.value.rollback ?? []).map((step, index) => ({ step, at: ['rollback', String(index)] }))];
  for (const { step, at } of everyStep) {
    if (step.timeout !== undefined) {
      try {
        parseDuration(step.timeout);
      } catch {
        issue([...at, 'timeout'], `\`${dottedPath([...at, 'timeout'])}\`: a timeout must be longer than zero`, 'write e.g. `90s`, `10m` or `1h`');
      }
    }
    const places: Array<[string[], string]> = [[['run'], step.run], ...Object.entries(step.env ?? {}).map(([k, v]): [string[], string] => [['env', k], v])];
    for (const [segments, value] of places) {
      for (const match of value.matchAll(ANY_EXPRESSION)) {
        const where = [...at, ...segments];
        if (!match[2]) {
          issue(where, `\`${match[0].slice(0, 40)}\` opens an expression that is never closed with \`}}\``, 'write `${{ secrets.NAME }}`');
        } else if (!WELL_FORMED.test(match[1] ?? '')) {
          issue(where, `\`${match[0]}\` is not a secret reference`, 'the only expression is `${{ secrets.NAME }}`, with a NAME of letters, digits and underscores');
        }
      }
    }
  }
  return errors.length ? { errors, warnings: result.warnings } : result;
}

/**
 * The secret names a step references, in `run` and in `env` values, without duplicates, in order of appearance.
 *
 * @example
 * secretReferences({ name: 'migrate', run: './migrate', env: { DB: '${{ secrets.DB_URL }}' } }); // ['DB_URL']
 */
export function secretReferences(step: Step): string[] {
  const names = new Set<string>();
  for (const text of [step.run, ...Object.values(step.env ?? {})]) {
    for (const match of text.matchAll(SECRET_REFERENCE)) names.add(match[1]!);
  }
  return [...names];
}
