/**
 * The agent's local configuration, owned by the server's owner: `<dir>/agent.json` (enrollment, written by
 * `bitenvoy agent enroll`) and the optional `<dir>/agent.yml` (allowlist, releases kept, secrets file).
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { BitEnvoyError } from '../lib/errors.js';
import type { AgentConfigFile } from '../config-schema/types.generated.js';
import type { Enrollment } from './enroll-agent.js';

export interface AgentConfig {
  enrollment: Enrollment;
  allow: AgentConfigFile['allow'];
  keepReleases: number;
  secretsFile: string;
  /** Which cloud instance to prove this server is (agent.yml `cloud`), if any. */
  cloud?: AgentConfigFile['cloud'];
}

/**
 * Loads `<dir>/agent.json` (required) and `<dir>/agent.yml` (optional, validated against `agent.schema.json`).
 *
 * @example
 * const config = await loadAgentConfig('/var/lib/bitenvoy-agent'); // throws BE_USAGE when not enrolled
 */
export async function loadAgentConfig(dir: string): Promise<AgentConfig> {
  const enrollmentFile = join(dir, 'agent.json');
  const enrollmentText = await readFile(enrollmentFile, 'utf8').catch(() => {
    throw new BitEnvoyError('BE_USAGE', `${enrollmentFile} is missing: this agent is not enrolled; run \`bitenvoy agent enroll --hub <url> --token <token> --dir ${dir}\` first`);
  });
  let enrollment: Enrollment;
  try {
    enrollment = JSON.parse(enrollmentText) as Enrollment;
    if (!enrollment.hub || !enrollment.credential || !enrollment.settings) throw new Error('hub, credential or settings missing');
  } catch (err) {
    throw new BitEnvoyError('BE_USAGE', `${enrollmentFile} is damaged (${(err as Error).message}); enroll again with \`bitenvoy agent enroll --force --hub <url> --token <token> --dir ${dir}\``);
  }
  const file = join(dir, 'agent.yml');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  let config: AgentConfigFile = {};
  if (text !== undefined) {
    // Loaded only when there is a file to check: an agent without agent.yml never pays for the validator.
    const { validateYamlFile } = await import('../config-schema/validate-yaml-file.js');
    const { formatIssues } = await import('../config-schema/validate-config-dir.js');
    const result = validateYamlFile<AgentConfigFile>(text, 'agent', file);
    if (!result.value) throw new BitEnvoyError('BE_USAGE', `${file} is not valid; the agent will not start until it is:\n${formatIssues(result.errors)}`);
    config = result.value;
  }
  const secretsFile = config.secretsFile ?? 'secrets.yml';
  return {
    enrollment,
    allow: config.allow,
    keepReleases: config.keepReleases ?? 5,
    secretsFile: isAbsolute(secretsFile) ? secretsFile : join(dir, secretsFile),
    ...(config.cloud ? { cloud: config.cloud } : {}),
  };
}
