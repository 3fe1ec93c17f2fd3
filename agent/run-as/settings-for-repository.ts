/**
 * Which `runAs` and `limits` apply to a repository: the most specific `perRepository` key that matches it
 * (`owner/name` over `owner/*`), over the agent-wide settings. Its `limits` replace the agent-wide ones key by key.
 *
 * @example
 * settingsForRepository({ runAs: 'deploy', perRepository: { 'acme/*': { runAs: 'acme' } } }, 'acme/shop'); // { runAs: 'acme', limits: undefined }
 */
import type { AgentConfigFile, RunAs, StepLimits } from '../../config-schema/types.generated.js';

export interface RepositorySettings {
  runAs?: RunAs;
  limits?: StepLimits;
  /** The agent.yml path they come from, for messages (`runAs`, or `perRepository.acme/shop`). */
  from: string;
}

/** The run-as related part of agent.yml. */
export type RunAsConfig = Pick<AgentConfigFile, 'runAs' | 'limits' | 'perRepository'>;

export function settingsForRepository(config: RunAsConfig, repository: string): RepositorySettings {
  const [owner] = repository.split('/');
  const overrides = config.perRepository ?? {};
  // GitHub names compare without regard to case, as `allow.repositories` does.
  const key = (wanted: string) => Object.keys(overrides).find((k) => k.toLowerCase() === wanted.toLowerCase());
  const match = key(repository) ?? key(`${owner}/*`);
  const override = match === undefined ? undefined : overrides[match];
  const limits = override?.limits ? { ...config.limits, ...override.limits } : config.limits;
  return {
    ...((override?.runAs ?? config.runAs) ? { runAs: override?.runAs ?? config.runAs } : {}),
    ...(limits ? { limits } : {}),
    from: match === undefined ? 'agent.yml' : `perRepository.${match}`,
  };
}

/** Every `runAs` agent.yml names (agent-wide and per repository), each with where it is written. */
export function namedRunAs(config: RunAsConfig): Array<{ runAs: RunAs; where: string }> {
  const named = config.runAs ? [{ runAs: config.runAs, where: 'runAs' }] : [];
  for (const [key, value] of Object.entries(config.perRepository ?? {})) if (value.runAs) named.push({ runAs: value.runAs, where: `perRepository.${key}.runAs` });
  return named;
}
