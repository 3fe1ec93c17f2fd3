/**
 * The agent's local configuration, owned by the server's owner: `<dir>/agent.json` (enrollment, written by
 * `bitenvoy agent enroll`) and `<dir>/agent.yml` (allowlist, releases kept, secrets file; written by enrollment for
 * the owner to review, required to start).
 */
import { isAbsolute, join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { BitEnvoyError } from '../lib/errors.js';
import type { AgentConfigFile } from '../config-schema/types.generated.js';
import type { Enrollment } from './enroll-agent.js';
import { DEFAULT_INSTRUCTIONS } from './allowlist.js';
import { readAgentYml } from './read-agent-yml.js';
import type { RunAsPlan } from './run-as/prepare-run-as.js';
import { tightenAgentDir } from './run-as/private-modes.js';

export interface AgentConfig {
  enrollment: Enrollment;
  /** `allow` of agent.yml, with `instructions` always set (default {@link DEFAULT_INSTRUCTIONS}). */
  allow: NonNullable<AgentConfigFile['allow']> & { instructions: string[] };
  keepReleases: number;
  secretsFile: string;
  /** Which cloud instance to prove this server is (agent.yml `cloud`), if any. */
  cloud?: AgentConfigFile['cloud'];
  /** Artifacts are used only with a build attestation that passes these (agent.yml `requireProvenance`), if set. */
  requireProvenance?: AgentConfigFile['requireProvenance'];
  /** Set when agent.yml has `runAs`, `limits` or `perRepository`: the users steps run as and their bounds, checked at start. */
  runAs?: RunAsPlan;
  /** What the owner should know at start: rules left out that leave the hub in charge (`bitenvoy agent run` logs them). */
  warnings: string[];
}

/**
 * Loads `<dir>/agent.json` and `<dir>/agent.yml` (both required; agent.yml validated against `agent.schema.json`).
 *
 * @example
 * const config = await loadAgentConfig('/var/lib/bitenvoy-agent'); // throws BE_USAGE when not enrolled or no agent.yml
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
  const config = await readAgentYml(dir);
  const secretsFile = config.secretsFile ?? 'secrets.yml';
  const allow = { ...config.allow, instructions: config.allow?.instructions ?? DEFAULT_INSTRUCTIONS };
  const secretsPath = isAbsolute(secretsFile) ? secretsFile : join(dir, secretsFile);
  // Only agents that set them load the run-as machinery: the others do not pay for it in idle memory.
  const tightened = await tightenAgentDir(dir, secretsPath, { traversable: Boolean(config.runAs || config.perRepository) });
  const runAs = config.runAs || config.limits || config.perRepository ? await (await import('./run-as/prepare-run-as.js')).prepareRunAs(config, dir) : { warnings: [] };
  return {
    enrollment,
    allow,
    keepReleases: config.keepReleases ?? 5,
    secretsFile: secretsPath,
    ...(config.cloud ? { cloud: config.cloud } : {}),
    ...(config.requireProvenance ? { requireProvenance: config.requireProvenance } : {}),
    ...(runAs.plan ? { runAs: runAs.plan } : {}),
    warnings: [
      ...allowWarnings(allow, join(dir, 'agent.yml')),
      ...(config.requireProvenance ? await trustRootWarnings(config.requireProvenance.trustRoot, dir) : []),
      ...runAs.warnings,
      ...(tightened.length ? [`set the modes of the agent's files in ${dir} (other users must not read them): ${tightened.join('; ')}`] : []),
    ],
  };
}

/**
 * `requireProvenance` with a trust root that cannot be used refuses every artifact: said at start, not first at a
 * deployment. (Loaded only then: the Sigstore libraries cost an idle agent nothing when provenance is not required.)
 */
async function trustRootWarnings(trustRoot: string | undefined, dir: string): Promise<string[]> {
  const { loadTrustRoot } = await import('./artifacts/load-trust-root.js');
  return loadTrustRoot(trustRoot, dir).then(
    () => [],
    (err: unknown) => [`requireProvenance: ${(err as Error).message} — until that is fixed every artifact is refused`],
  );
}

/** The rules whose absence leaves the hub in charge, each with the line to add; and an allowlist that refuses everything. */
function allowWarnings(allow: AgentConfig['allow'], file: string): string[] {
  const warnings: string[] = [];
  if (!allow.gitBaseUrls) {
    warnings.push(
      `${file} has no allow.gitBaseUrls: this agent fetches code from whatever URL the hub sends, so a hub that has been tampered with can run code of its own here with this server's secrets. ` +
        'Add where your repositories live under `allow:`, e.g. `gitBaseUrls: [https://github.com/]`, and restart the agent',
    );
  } else if (!allow.gitBaseUrls.length) {
    warnings.push(`${file} has an empty allow.gitBaseUrls: every job is refused. Add where your repositories live, e.g. \`gitBaseUrls: [https://github.com/]\`, and restart the agent`);
  }
  if (!allow.branches) {
    warnings.push(
      `${file} has no allow.branches: this agent runs any commit the hub names, even one that is on no branch (a pull request's refs/pull/…/head). ` +
        'Add the branches your environments deploy under `allow:`, e.g. `branches: [main]`, and restart the agent',
    );
  } else if (!allow.branches.length) {
    warnings.push(`${file} has an empty allow.branches: every job is refused. Add the branches your environments deploy, e.g. \`branches: [main]\`, and restart the agent`);
  }
  if (!allow.repositories) {
    warnings.push(
      `${file} has no allow.repositories: this agent deploys any repository the hub names on an allowed git host (any public one on github.com), so a hub that has been tampered with can run code of its choosing here. ` +
        'Add your organisations under `allow:`, e.g. `repositories: [acme/*]`, and restart the agent',
    );
  }
  return warnings;
}
