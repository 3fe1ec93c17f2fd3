import type { AgentRecord, DeploymentRecord, JobRecord } from '../model.js';

/** GitHub caps a deployment status description at 140 characters; ours follow the same rule everywhere. */
export const MAX_DESCRIPTION = 140;

export function truncate(text: string): string {
  return text.length <= MAX_DESCRIPTION ? text : text.slice(0, MAX_DESCRIPTION - 1) + '…';
}

/**
 * Progress for people, e.g. "1/4 servers · batch 2/4", from the number of servers done.
 *
 * @example
 * describeDeployment(dep, 3); // '3/10 servers · batch 1/2'
 */
export function describeDeployment(dep: DeploymentRecord, done: number): string {
  const total = dep.batches.reduce((n, b) => n + b.agentIds.length, 0);
  const batch = Math.max(dep.currentBatch, 0) + 1;
  return truncate(`${done}/${total} servers · batch ${batch}/${dep.batches.length}${dep.unseen ? ` · ${dep.unseen}` : ''}`);
}

/** Names the first server that failed and why, e.g. "web-2: step migrate exited with code 3 (1 of 2 failed)". */
export function failureDescription(first: JobRecord, failedCount: number, agent: AgentRecord | undefined): string {
  const name = agent?.name ?? first.agentId;
  const why = first.message ?? first.state;
  return truncate(`${name}: ${why}${failedCount > 1 ? ` (${failedCount} servers failed)` : ''}`);
}
