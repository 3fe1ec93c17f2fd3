/**
 * A step's secret references bound to the agent's local secrets (see load-secrets.ts): steps get only the secrets
 * they reference, through environment variables, so values never appear on a command line. Loaded with the first
 * job (through run-job.ts), not while the agent idles.
 *
 * @example
 * const { run, env } = bindSecrets(step, secrets, secretsFile); // throws if a referenced secret is missing
 */
import { BitEnvoyError } from '../lib/errors.js';
import { SECRET_REFERENCE } from '../config-schema/secret-reference.js';
import type { Step } from '../config-schema/types.generated.js';
import { secretExpansions, secretValueProblem } from './platform/secret-expansions.js';
import { defaultShell, type ShellName } from './platform/shells.js';

/** The variable a secret reference in `run` expands to. */
export function secretVariable(name: string): string {
  return `BITENVOY_SECRET_${name}`;
}

/**
 * Resolves a step's secret references: in `run` each becomes an expansion of `BITENVOY_SECRET_<NAME>` (the value is
 * in the step's environment, never on its command line) written for the step's shell and for where the reference
 * stands (see platform/secret-expansions.ts) — in sh and bash: unquoted, in `"…"` or `'…'`, inside `$(…)` or
 * backquotes (where quoting starts afresh), in `${v:-…}`, in a here-document — so it yields exactly the value as one
 * word: no splitting, no globbing, nothing in it expanded. A reference in a comment is left as written. In `env`
 * values it is put in place. Only the secrets a step references reach its environment. A reference to an unknown
 * secret, one in a place where no expansion yields the value as text, or a value the shell cannot pass on (cmd: a
 * `"` or a line break) is an error that says how to write it instead.
 *
 * @example
 * bindSecrets({ name: 'm', run: 'migrate --url ${{ secrets.DB }}' }, secrets, file).run; // 'migrate --url "${BITENVOY_SECRET_DB}"'
 * bindSecrets({ name: 'm', run: 'echo "$(cat "${{ secrets.F }}")"' }, secrets, file).run; // 'echo "$(cat "${BITENVOY_SECRET_F}")"'
 * bindSecrets({ name: 'm', run: 'migrate --url ${{ secrets.DB }}' }, secrets, file, 'pwsh').run; // 'migrate --url ${env:BITENVOY_SECRET_DB}'
 */
export function bindSecrets(step: Step, secrets: Map<string, string>, secretsFile: string, shell: ShellName = step.shell ?? defaultShell()): { run: string; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const resolveName = (name: string): string => {
    const value = secrets.get(name);
    if (value === undefined) {
      throw new BitEnvoyError('BE_INSTRUCTIONS_INVALID', `step \`${step.name}\` uses secrets.${name}, which is not in ${secretsFile}; add \`${name}: …\` there on this server`);
    }
    return value;
  };
  let run = '';
  let done = 0;
  // Only a script that references a secret is scanned: one without is run exactly as written.
  const sites = step.run.search(SECRET_REFERENCE) === -1 ? [] : secretExpansions(step.run, shell, secretVariable);
  for (const site of sites) {
    if (site.problem !== undefined) {
      throw new BitEnvoyError('BE_INSTRUCTIONS_INVALID', `step \`${step.name}\`: \`\${{ secrets.${site.name} }}\` at line ${site.line} of \`run\` ${site.problem}`);
    }
    if (site.text === undefined) continue;
    const value = resolveName(site.name);
    const problem = secretValueProblem(shell, value);
    if (problem) {
      throw new BitEnvoyError('BE_INSTRUCTIONS_INVALID', `step \`${step.name}\`: the value of secrets.${site.name} (in ${secretsFile}) ${problem}`);
    }
    env[secretVariable(site.name)] = value;
    run += step.run.slice(done, site.offset) + site.text;
    done = site.offset + site.length;
  }
  run += step.run.slice(done);
  for (const [key, value] of Object.entries(step.env ?? {})) env[key] = value.replace(SECRET_REFERENCE, (_m, name: string) => resolveName(name));
  return { run, env };
}
