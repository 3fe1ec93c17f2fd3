/**
 * Parses and checks an instruction file (`bitenvoy.yml`): the schema, plus what a schema cannot say — steps that
 * run after the `current` switch come last, and secret references are well-formed. No file system access: the
 * agent reads the file, this judges it.
 *
 * @example
 * const { value, errors } = parseInstructions(text, 'bitenvoy.yml');
 * const names = secretReferences(value.steps[0]); // ['DB_URL']
 */
import type { InstructionFile, Step } from './types.generated.js';
import { positionOf, validateYamlFile, type ValidationResult } from './validate-yaml-file.js';

import { SECRET_REFERENCE } from './secret-reference.js';

export { SECRET_REFERENCE };
const ANY_EXPRESSION = /\$\{\{([^}]*)\}\}/g;

export function parseInstructions(text: string, file: string): ValidationResult<InstructionFile> {
  const result = validateYamlFile<InstructionFile>(text, 'instructions', file);
  const value = result.value;
  if (!value) return result;
  const errors = [...result.errors];
  let sawAfterSwitch = false;
  value.steps.forEach((step, index) => {
    if (step.afterSwitch) sawAfterSwitch = true;
    else if (sawAfterSwitch) {
      errors.push({
        file,
        path: `steps.${index}`,
        ...positionOf(text, ['steps', String(index)]),
        message: `step \`${step.name}\` runs before the switch but comes after a step marked \`afterSwitch\``,
        hint: 'move every afterSwitch step to the end of the list',
      });
    }
    const places: Array<[string[], string]> = [[['run'], step.run], ...Object.entries(step.env ?? {}).map(([k, v]) => [['env', k], v] as [string[], string])];
    for (const [segments, textValue] of places) {
      for (const match of textValue.matchAll(ANY_EXPRESSION)) {
        if (!/^\s*secrets\.[A-Za-z_][A-Za-z0-9_]*\s*$/.test(match[1] ?? '')) {
          errors.push({
            file,
            path: ['steps', String(index), ...segments].join('.'),
            ...positionOf(text, ['steps', String(index), ...segments]),
            message: `\`${match[0]}\` is not a secret reference`,
            hint: 'write `${{ secrets.NAME }}` with a NAME of letters, digits and underscores',
          });
        }
      }
    }
  });
  return errors.length ? { errors, warnings: result.warnings } : { value, errors, warnings: result.warnings };
}

/** The secret names a step references, in `run` and in `env` values, without duplicates. */
export function secretReferences(step: Step): string[] {
  const names = new Set<string>();
  for (const text of [step.run, ...Object.values(step.env ?? {})]) {
    for (const match of text.matchAll(SECRET_REFERENCE)) names.add(match[1]!);
  }
  return [...names];
}
