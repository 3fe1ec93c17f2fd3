/**
 * Continue and cancel as people ask for them — from the admin API or the status page's buttons: the engine does the
 * work, and the action goes into the audit log with who asked. Both surfaces call these, so they cannot drift apart
 * in what they check, refuse or record.
 *
 * @example
 * const deployment = await continueRollout({ store, engine }, 'dep_1a2b', 'dashboard');
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { keys, type DeploymentRecord } from '../model.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import type { Store } from '../store/store.js';
import { recordAudit } from './audit-log.js';

export interface ActionDeps {
  store: Store;
  engine: RolloutEngine;
}

/** Releases a rollout held at a gate between batches; BE_CONFLICT (409) when it is not held, BE_NOT_FOUND when unknown. */
export async function continueRollout(deps: ActionDeps, id: string, by: string): Promise<DeploymentRecord> {
  const d = await deps.store.get<DeploymentRecord>(keys.deployment(id));
  if (!d) throw new BitEnvoyError('BE_NOT_FOUND', `no deployment ${id}`);
  if (!(await deps.engine.continueDeployment(d.id, by))) {
    throw new BitEnvoyError('BE_CONFLICT', `deployment ${d.id} is not paused (it is ${d.state}: ${d.description}); only a rollout waiting between batches can be continued`);
  }
  await recordAudit(deps.store, { actor: by, action: 'continue', repository: d.repository, environment: d.environment, sha: d.sha, outcome: 'continued', deploymentId: d.id });
  return d;
}

/** Asks a rollout to stop; BE_CONFLICT (409) when it already ended, BE_NOT_FOUND when unknown. */
export async function cancelRollout(deps: ActionDeps, id: string, by: string): Promise<DeploymentRecord> {
  const d = await deps.engine.cancelDeployment(id, by);
  await recordAudit(deps.store, { actor: by, action: 'cancel', repository: d.repository, environment: d.environment, sha: d.sha, outcome: d.state === 'cancelled' ? 'cancelled' : 'cancelling', deploymentId: d.id });
  return d;
}
