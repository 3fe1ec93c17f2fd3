/**
 * Reads `<dir>/agent.yml`, the owner's rules, which the agent needs to start: without it the hub alone would decide
 * where code comes from and which commits run with this server's secrets.
 *
 * Checking the file needs the YAML parser and the schema validator, which would stay in the memory of an agent that
 * idles for months (about 15 MB, a quarter of it). So a checked file's value is kept next to it in
 * `.agent-yml.checked.json`, under a key made of the file's text, the schema and BitEnvoy's version: an agent whose
 * file is as it was checked (by `bitenvoy agent enroll`, or the previous start) loads neither. Whoever can write that
 * key file can write agent.yml itself, so it trusts nobody new.
 *
 * @example
 * const file = await readAgentYml('/var/lib/bitenvoy-agent'); // throws BE_USAGE when missing or invalid
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BitEnvoyError } from '../lib/errors.js';
import { version } from '../lib/package-root.js';
import agentSchema from '../config-schema/agent.schema.json' with { type: 'json' };
import type { AgentConfigFile } from '../config-schema/types.generated.js';

/** The file next to agent.yml holding its checked value. */
export const CHECKED_FILE = '.agent-yml.checked.json';

/**
 * agent.yml's value, validated against `agent.schema.json` (schema defaults filled in). Throws BE_USAGE with what
 * to write when the file is missing, and with every problem when it is invalid.
 */
export async function readAgentYml(dir: string): Promise<AgentConfigFile> {
  const file = join(dir, 'agent.yml');
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new BitEnvoyError('BE_USAGE', missingMessage(dir));
    throw new BitEnvoyError('BE_USAGE', `cannot read ${file} (${err.message}); the agent will not start until it can`);
  });
  // The key is the texts themselves, not a digest of them: hashing would load Node's crypto module (about 3 MB an idle
  // agent would hold for nothing), and nothing here needs one: whoever can write the key file can write agent.yml.
  const key = `${version}\0${JSON.stringify(agentSchema)}\0${text}`;
  const checked = join(dir, CHECKED_FILE);
  const kept = await readFile(checked, 'utf8').then(parseChecked, () => undefined);
  if (kept?.key === key) return kept.value;

  const { validateYamlFile } = await import('../config-schema/validate-yaml-file.js');
  const { formatIssues } = await import('../config-schema/validate-config-dir.js');
  const result = validateYamlFile<AgentConfigFile>(text, 'agent', file);
  if (!result.value) throw new BitEnvoyError('BE_USAGE', `${file} is not valid; the agent will not start until it is:\n${formatIssues(result.errors)}`);
  // Best effort: a directory the agent cannot write to only costs the validator's memory at each start.
  await writeFile(checked, JSON.stringify({ key, value: result.value }) + '\n', { mode: 0o600 }).catch(() => undefined);
  return result.value;
}

function parseChecked(text: string): { key: string; value: AgentConfigFile } | undefined {
  try {
    const parsed = JSON.parse(text) as { key?: unknown; value?: unknown };
    const { key, value } = parsed;
    return typeof key === 'string' && typeof value === 'object' && value !== null && !Array.isArray(value) ? { key, value: value as AgentConfigFile } : undefined;
  } catch {
    return undefined;
  }
}

/** What an agent directory without agent.yml (enrolled before enrollment wrote one) is told: what to write, or to enroll again. */
function missingMessage(dir: string): string {
  const file = join(dir, 'agent.yml');
  return [
    `${file} is missing, so the agent does not start: without it the hub alone decides where code comes from and which commits run with this server's secrets.`,
    `Enroll again with a new token (it writes agent.yml from what the hub suggests, for you to review): bitenvoy agent enroll --force --hub <url> --token <token> --dir ${dir}`,
    `or write ${file} yourself, e.g. (put your own git host and branches):`,
    '',
    'allow:',
    '  gitBaseUrls: [https://github.com/]  # where code may come from: a job\'s git URL must be <base><owner>/<name>(.git)',
    '  branches: [main]                    # a commit must be on one of these branches',
    '  instructions: [bitenvoy.yml]        # the instruction file paths this agent runs',
    '',
    'and start the agent again (every key: templates/agent.yml).',
  ].join('\n');
}
