/**
 * The agent's local configuration, owned by the server's owner: `<dir>/agent.json` (enrollment, written by
 * `bitenvoy agent enroll`) and the optional `<dir>/agent.yml` (allowlist, releases kept, secrets file).
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { BitEnvoyError } from '../lib/errors.js';
import type { AgentConfigFile } from '../config-schema/types.generated.js';
import type { JobSpec } from '../lib/protocol.js';
import type { Enrollment } from './enroll-agent.js';

export interface AgentConfig {
  enrollment: Enrollment;
  allow: AgentConfigFile['allow'];
  keepReleases: number;
  secretsFile: string;
}

export async function loadAgentConfig(dir: string): Promise<AgentConfig> {
  const enrollmentFile = join(dir, 'agent.json');
  const enrollment = await readFile(enrollmentFile, 'utf8').then(
    (t) => JSON.parse(t) as Enrollment,
    () => {
      throw new BitEnvoyError('BE_USAGE', `${enrollmentFile} is missing: run \`bitenvoy agent enroll --hub <url> --token <token> --dir ${dir}\` first`);
    },
  );
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
  };
}

/**
 * Why the local allowlist refuses a job, or undefined when it accepts it. Checked before anything is fetched.
 *
 * @example
 * refusalReason({ repositories: ['acme/*'] }, job); // undefined for acme/shop
 */
export function refusalReason(allow: AgentConfigFile['allow'], job: Pick<JobSpec, 'repository' | 'environment'>): string | undefined {
  const repos = allow?.repositories;
  if (repos && !repos.some((pattern) => pattern === job.repository || (pattern.endsWith('/*') && job.repository.startsWith(pattern.slice(0, -1))))) {
    return `this agent's allowlist does not accept repository ${job.repository} (allow.repositories: ${repos.join(', ')}); the server's owner can add it to agent.yml`;
  }
  const envs = allow?.environments;
  if (envs && !envs.includes(job.environment)) {
    return `this agent's allowlist does not accept environment ${job.environment} (allow.environments: ${envs.join(', ')}); the server's owner can add it to agent.yml`;
  }
  return undefined;
}
