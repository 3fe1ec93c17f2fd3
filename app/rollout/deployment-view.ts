/**
 * What the status page and `GET /api/v1/deployments/:id` show: a deployment with each of its jobs, the job's
 * agent by name and the tail of its log.
 */
import { readLogTail } from '../jobs/job-logs.js';
import { keys, type DeploymentRecord, type JobRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { jobIdsUpTo, listAllAgents } from './engine-context.js';

export interface JobView extends JobRecord {
  id: string;
  agentName: string;
  /** The last lines of the job's log (at most 50 lines and 16 Ki characters). */
  logTail: string[];
}

export interface DeploymentView {
  deployment: DeploymentRecord;
  jobs: JobView[];
}

/**
 * The deployment and every job created for it so far, in plan order; undefined for an unknown id.
 *
 * @example
 * const view = await readDeploymentView(store, 'dep_1a2b');
 * view?.jobs.map((j) => `${j.agentName}: ${j.state}`);
 */
export async function readDeploymentView(store: Store, id: string): Promise<DeploymentView | undefined> {
  const deployment = await store.get<DeploymentRecord>(keys.deployment(id));
  if (!deployment) return undefined;
  const agents = new Map((await listAllAgents(store)).map((a) => [a.id, a]));
  const jobIds = jobIdsUpTo(deployment, deployment.currentBatch);
  const records = await store.getMany<JobRecord>(jobIds.map((jobId) => keys.job(jobId)));
  const jobs: JobView[] = [];
  for (const [i, job] of records.entries()) {
    if (!job) continue;
    // Each tail reads a bounded number of entries, however long the job's log (job-logs.ts).
    jobs.push({ ...job, id: jobIds[i]!, agentName: agents.get(job.agentId)?.name ?? job.agentId, logTail: await readLogTail(store, job) });
  }
  return { deployment, jobs };
}
