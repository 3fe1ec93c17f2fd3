/**
 * The rollout's phase as one explicit state machine: which states a deployment may move to from which, and the one
 * transition function every change of a deployment's state goes through (first claim, end, refusal of a waiting
 * rollout, supersession). A final state never changes again; an event that does not apply to the current phase
 * changes nothing (`undefined`), so a caller inside `store.update` simply leaves the record as it is.
 *
 *   queued ──started──▶ in_progress ──finished──▶ success | failure | cancelled
 *     │                      │
 *     ├──finished (cancelled before it started, or nothing left to run)
 *     └──refused | superseded ──▶ error
 *
 * @example
 * await store.update<DeploymentRecord>(keys.deployment(id), (d) => d && transition(d, { type: 'started' }, now));
 */
import { FINAL_DEPLOYMENT_STATES, type DeploymentState } from '../../lib/protocol.js';
import type { DeploymentRecord } from '../model.js';
import { truncate } from './describe-deployment.js';

export type RolloutEvent =
  /** Its first job was claimed. */
  | { type: 'started' }
  /** Its servers are done (or it was cancelled): the outcome and a sentence for people. */
  | { type: 'finished'; state: 'success' | 'failure' | 'cancelled'; description: string; extra?: Pick<DeploymentRecord, 'autoRollback'> }
  /** It waited for its environment and a guard rail (a lock, the promotion order) now holds it back. */
  | { type: 'refused'; reasons: string[] }
  /** A newer request for the environment replaced it before it started. */
  | { type: 'superseded'; by: string };

/** The states each state may move to. */
export const TRANSITIONS: Readonly<Record<DeploymentState, readonly DeploymentState[]>> = {
  queued: ['in_progress', 'success', 'failure', 'cancelled', 'error'],
  in_progress: ['success', 'failure', 'cancelled', 'error'],
  success: [],
  failure: [],
  error: [],
  cancelled: [],
};

/** The record after `event`, or undefined when the event does not apply to the deployment's phase. */
export function transition(dep: DeploymentRecord, event: RolloutEvent, nowIso: string): DeploymentRecord | undefined {
  if (FINAL_DEPLOYMENT_STATES.includes(dep.state)) return undefined;
  switch (event.type) {
    case 'started':
      return dep.state === 'queued' ? moved(dep, 'in_progress', { updatedAt: nowIso }) : undefined;
    case 'finished':
      return moved({ ...dep, ...event.extra }, event.state, { description: truncate(event.description), finishedAt: nowIso, updatedAt: nowIso });
    case 'refused':
    case 'superseded': {
      // Only a rollout that has not started (it waits for its environment) can be refused or replaced.
      if (!dep.waitingFor) return undefined;
      const { waitingFor: _gone, ...rest } = dep;
      const description = event.type === 'refused' ? truncate(`not started: ${event.reasons.join('; ')}`) : `superseded by ${event.by} before it started`;
      return moved(rest, 'error', { description, finishedAt: nowIso, updatedAt: nowIso });
    }
  }
}

function moved(dep: DeploymentRecord, to: DeploymentState, changes: Partial<DeploymentRecord>): DeploymentRecord {
  if (!TRANSITIONS[dep.state].includes(to)) throw new Error(`a deployment cannot go from ${dep.state} to ${to} (${dep.id})`);
  return { ...dep, ...changes, state: to };
}
