/**
 * What every part of the rollout engine shares: the store, the clock, the settings, the config in force and the
 * long-poll notifier. The engine's modules are plain functions of this context, so each can be tested alone.
 */
import type { LabelSelector } from '../../config-schema/types.generated.js';
import type { LoadedConfig } from '../../config-schema/validate-config-dir.js';
import type { Logger } from '../../lib/logger.js';
import type { JobNotifier } from '../jobs/job-notifier.js';
import type { AgentRecord, DeploymentRecord } from '../model.js';
import type { HubMode } from './action-hints.js';
import type { Store } from '../store/store.js';
import type { AgentFacts } from './select-agents.js';

export interface EngineSettings {
  leaseSeconds: number;
  heartbeatSeconds: number;
  pollWaitSeconds: number;
  publicUrl: string;
}

export type ConfigInForce = LoadedConfig & { sha: string };

export interface EngineContext {
  store: Store;
  log: Logger;
  settings: EngineSettings;
  /** The config in force for a repository (`owner/name`): in GitHub mode each installation owner has its own. */
  config: (repository: string) => ConfigInForce | undefined;
  now: () => number;
  notifier: JobNotifier;
  /**
   * Batches whose jobs this process has already created and queued (`<deployment>:<batch>`): checking them again on
   * every reported event would read the whole batch each time. Empty after a restart, so each is checked once more.
   */
  ensuredBatches: Set<string>;
  /** Called after a deployment's state or description changed (GitHub statuses follow it). */
  onChange: (deployment: DeploymentRecord) => void;
  /** The hub's mode: messages name the way to act that works in it (action-hints.ts). */
  mode: HubMode;
  /** Each agent's verified `cloud.*` labels, or why they are unknown now (cloud discovery); none without it. */
  cloudFacts?: (agents: AgentRecord[], selector?: LabelSelector) => Promise<ReadonlyMap<string, AgentFacts>>;
}

export function isoNow(ctx: Pick<EngineContext, 'now'>): string {
  return new Date(ctx.now()).toISOString();
}

/** When a lease taken or renewed now runs out. */
export function leaseUntil(ctx: Pick<EngineContext, 'now' | 'settings'>): string {
  return new Date(ctx.now() + ctx.settings.leaseSeconds * 1000).toISOString();
}

/** An agent is lost after three heartbeat intervals without any request. */
export function lostAfterMs(settings: EngineSettings): number {
  return 3 * settings.heartbeatSeconds * 1000;
}

/**
 * True while the agent has made a request within the last three heartbeat intervals.
 *
 * @example
 * isAgentOnline(ctx, agent); // false when lastSeenAt is older than 3 × heartbeatSeconds
 */
export function isAgentOnline(ctx: Pick<EngineContext, 'now' | 'settings'>, agent: AgentRecord): boolean {
  return ctx.now() - Date.parse(agent.lastSeenAt) <= lostAfterMs(ctx.settings);
}

/** Every enrolled agent. `agent:` never matches `agent-name:`, `agent-queue:`… (they continue with a dash). */
export async function listAllAgents(store: Store): Promise<AgentRecord[]> {
  return (await store.list<AgentRecord>('agent:')).map((e) => e.value);
}

/**
 * Deterministic, so re-creating a batch after a crash finds the jobs it already made.
 *
 * @example
 * jobIdFor('dep_1a2b', 0, 'ag_9f'); // 'job_1a2b_0_9f'
 */
export function jobIdFor(deploymentId: string, batch: number, agentId: string): string {
  return `job_${deploymentId.replace(/^dep_/, '')}_${batch}_${agentId.replace(/^ag_/, '')}`;
}

/** Ids of every job of batches 0…`batch` of a deployment, in plan order. */
export function jobIdsUpTo(dep: DeploymentRecord, batch: number): string[] {
  return dep.batches.slice(0, batch + 1).flatMap((b, i) => b.agentIds.map((agentId) => jobIdFor(dep.id, i, agentId)));
}
