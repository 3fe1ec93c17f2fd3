/**
 * Moves a deployment forward by what its jobs say: creates the next batch once every job of the current one
 * succeeded, finishes with `success` after the last, or with `failure` once a job failed and none is still active.
 *
 * Safe to call any number of times, from anywhere, after any crash: the deployment record's `currentBatch` (moved
 * only forward, with `store.update`) is the gate, and job ids derived from deployment, batch and agent make
 * re-creating a job a no-op. What has ended is read from the deployment's job counters (kept by the store in the
 * same transaction as each job's write), not from every job record, so each job's end costs the same however many
 * servers the rollout has.
 */
import { FINAL_DEPLOYMENT_STATES, FINAL_JOB_STATES, type JobState } from '../../lib/protocol.js';
import { keys, type AgentRecord, type DeploymentRecord, type JobRecord } from '../model.js';
import { jobCountsOf, jobsOfDeployment, jobsOfDeploymentIn } from '../store/job-queries.js';
import { describeAutoRollback, planAutoRollback } from './auto-rollback.js';
import { describeDeployment, failureDescription, MAX_DESCRIPTION, truncate } from './describe-deployment.js';
import { isoNow, jobIdFor, type EngineContext } from './engine-context.js';
import { transition } from './rollout-phase.js';
import { activeLock, describeLock, type EnvironmentLock } from './environment-locks.js';
import { howToContinue } from './action-hints.js';

/**
 * Advances one deployment as far as its jobs allow.
 *
 * @example
 * await advanceDeployment(ctx, 'dep_1a2b'); // after a job of it finished
 */
export async function advanceDeployment(ctx: EngineContext, id: string): Promise<void> {
  let dep = await ctx.store.get<DeploymentRecord>(keys.deployment(id));
  if (!dep || FINAL_DEPLOYMENT_STATES.includes(dep.state)) return;
  if (dep.cancelRequested && dep.waitingFor) return finish(ctx, dep, 'cancelled', `asked by ${dep.cancelRequested.by} before it started`);
  if (dep.waitingFor) return;
  if (dep.currentBatch < 0) dep = await moveToBatch(ctx, dep, 0);
  const allowed = dep.policy?.maxFailures ?? 0;
  for (;;) {
    const ensured = `${dep.id}:${dep.currentBatch}`;
    let counts = await jobCountsOf(ctx.store, dep.id);
    if (!ctx.ensuredBatches.has(ensured)) {
      // The counters say when every job of the batch exists (another replica made them): nothing to insert. Only
      // the replica that gets there first writes the batch; the others' first advance costs this read.
      if (jobsMade(counts, dep.currentBatch) < (dep.batches[dep.currentBatch]?.agentIds.length ?? 0)) {
        await ensureBatchJobs(ctx, dep, dep.currentBatch);
        counts = await jobCountsOf(ctx.store, dep.id);
      }
      ctx.ensuredBatches.add(ensured);
    }
    const { succeeded, failed, active, batchEnded } = countJobs(dep, counts);
    if (dep.cancelRequested) {
      if (active > 0) return;
      // Say what is live: a cancel that came after every server had switched did not stop anything.
      const total = totalServers(dep);
      const by = dep.cancelRequested.by;
      if (succeeded === total && failed === 0) return finish(ctx, dep, 'success', `${total}/${total} servers succeeded; the cancel asked by ${by} came after the last server had deployed`);
      const sha = dep.sha.slice(0, 7);
      return finish(ctx, dep, 'cancelled', `asked by ${by}; ${sha} is live on ${succeeded}/${total} servers${succeeded ? ', the others keep what they had' : ''}`);
    }
    // Past the failure policy: no new server starts; the rollout fails once the running ones end.
    if (failed > allowed) {
      if (active > 0) return describe(ctx, dep, succeeded);
      const [first] = await jobsOfDeploymentIn(ctx.store, dep.id, FAILED_STATES, 1);
      const agent = first ? await ctx.store.get<AgentRecord>(keys.agent(first.agentId)) : undefined;
      const why = first ? failureDescription(first, failed, agent) : `${failed} servers failed`;
      return fail(ctx, dep, allowed > 0 ? `${why} — more than maxFailures ${allowed}` : why);
    }
    if (dep.policy?.deadline && ctx.now() >= Date.parse(dep.policy.deadline)) {
      return fail(ctx, dep, `the rollout timed out at ${dep.policy.deadline} with ${succeeded}/${totalServers(dep)} servers done`);
    }
    if (!batchEnded) return describe(ctx, dep, succeeded);
    const current = dep.currentBatch;
    if (current + 1 >= dep.batches.length) {
      const all = succeeded + failed;
      return finish(ctx, dep, 'success', failed ? `${succeeded}/${all} servers succeeded, ${failed} failed (within maxFailures ${allowed})` : `${all}/${all} servers succeeded`);
    }
    const pause = dep.batches[current]?.pauseAfter;
    if (pause !== undefined && !dep.gatesPassed?.includes(current)) {
      const gated = await holdAtGate(ctx, dep, current, pause);
      if (gated) return;
      dep = (await ctx.store.get<DeploymentRecord>(keys.deployment(dep.id))) ?? dep;
    }
    dep = await moveToBatch(ctx, dep, current + 1);
  }
}

/** Every final state but success: a failed, refused or cancelled server counts against the failure policy. */
const FAILED_STATES: readonly JobState[] = FINAL_JOB_STATES.filter((s) => s !== 'succeeded');

/**
 * What the counters say of the batches started so far: servers done, servers failed, servers still going (a job
 * not created yet counts as going), and whether the current batch has ended. O(batches), not O(servers).
 */
function countJobs(dep: DeploymentRecord, counts: Array<{ batch: number; state: JobState; n: number }>): { succeeded: number; failed: number; active: number; batchEnded: boolean } {
  let succeeded = 0;
  let failed = 0;
  let endedInCurrent = 0;
  for (const { batch, state, n } of counts) {
    if (batch > dep.currentBatch) continue;
    if (state === 'succeeded') succeeded += n;
    else if (FAILED_STATES.includes(state)) failed += n;
    else continue;
    if (batch === dep.currentBatch) endedInCurrent += n;
  }
  const planned = dep.batches.slice(0, dep.currentBatch + 1).reduce((n, b) => n + b.agentIds.length, 0);
  const current = dep.batches[dep.currentBatch]?.agentIds.length ?? 0;
  return { succeeded, failed, active: planned - succeeded - failed, batchEnded: endedInCurrent >= current };
}

/** How many jobs of the batch exist, whatever their state (the counters count every job once). */
function jobsMade(counts: Array<{ batch: number; n: number }>, batch: number): number {
  return counts.reduce((n, c) => (c.batch === batch ? n + c.n : n), 0);
}

function totalServers(dep: DeploymentRecord): number {
  return dep.batches.reduce((n, b) => n + b.agentIds.length, 0);
}

/**
 * Between batches: opens the gate the first time (a timer, or a manual gate someone continues), and says whether
 * the rollout must still wait. A timer that has run out is passed here; a manual gate only by continueDeployment.
 */
async function holdAtGate(ctx: EngineContext, dep: DeploymentRecord, batch: number, pause: number | 'manual'): Promise<boolean> {
  const now = ctx.now();
  const until = pause === 'manual' ? undefined : dep.gate?.afterBatch === batch ? dep.gate.until : new Date(now + pause).toISOString();
  if (until !== undefined && Date.parse(until) <= now) {
    // A pause that ran out while the environment is locked goes on waiting: a lock stops what would start now.
    const lock = await activeLock(ctx.store, dep.repository, dep.environment, now);
    if (lock) return holdForLock(ctx, dep, batch, lock);
    await ctx.store.update<DeploymentRecord>(keys.deployment(dep.id), (d) => {
      if (!d) return undefined;
      const { gate: _open, ...rest } = d;
      return { ...rest, gatesPassed: [...(d.gatesPassed ?? []), batch], updatedAt: isoNow(ctx) };
    });
    return false;
  }
  if (dep.gate?.afterBatch === batch) return true;
  const description = truncate(
    pause === 'manual'
      ? `paused after batch ${batch + 1}/${dep.batches.length}: ${howToContinue(ctx.mode, dep)}`
      : `paused after batch ${batch + 1}/${dep.batches.length} until ${until!.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`,
  );
  let opened = false as boolean;
  const updated = await ctx.store.update<DeploymentRecord>(keys.deployment(dep.id), (d) => {
    if (!d || d.gate || FINAL_DEPLOYMENT_STATES.includes(d.state)) return undefined;
    opened = true;
    return { ...d, gate: { afterBatch: batch, since: isoNow(ctx), ...(until ? { until } : { manual: true }) }, description, updatedAt: isoNow(ctx) };
  });
  if (opened && updated) {
    ctx.log.info({ deploymentId: dep.id, batch, until }, description);
    ctx.onChange(updated);
  }
  return true;
}

/** Keeps a rollout at its gate while its environment is locked, saying so (once) in its description. */
async function holdForLock(ctx: EngineContext, dep: DeploymentRecord, batch: number, lock: EnvironmentLock): Promise<true> {
  const description = truncate(`paused after batch ${batch + 1}/${dep.batches.length}: ${describeLock(lock)}; it goes on once unlocked`);
  if (dep.description === description) return true;
  const updated = await ctx.store.update<DeploymentRecord>(keys.deployment(dep.id), (d) =>
    d && !FINAL_DEPLOYMENT_STATES.includes(d.state) && d.description !== description ? { ...d, description, updatedAt: isoNow(ctx) } : undefined,
  );
  if (updated?.description === description) ctx.onChange(updated);
  return true;
}

/**
 * Releases a rollout waiting at a gate (manual or timed); false when it is not waiting. The caller advances it.
 *
 * @example
 * if (await continueDeployment(ctx, 'dep_1a2b', 'octocat')) await engine.advance('dep_1a2b');
 */
export async function continueDeployment(ctx: EngineContext, id: string, by: string): Promise<boolean> {
  let released = false as boolean;
  await ctx.store.update<DeploymentRecord>(keys.deployment(id), (d) => {
    if (!d?.gate || FINAL_DEPLOYMENT_STATES.includes(d.state)) return undefined;
    released = true;
    const { gate, ...rest } = d;
    return { ...rest, gatesPassed: [...(d.gatesPassed ?? []), gate.afterBatch], updatedAt: isoNow(ctx) };
  });
  if (released) ctx.log.info({ deploymentId: id, by }, 'rollout continued');
  return released;
}

async function moveToBatch(ctx: EngineContext, dep: DeploymentRecord, batch: number): Promise<DeploymentRecord> {
  // The rollout's clock starts with its first batch, not while it waited for its environment.
  const deadline = (d: DeploymentRecord) => (batch === 0 && d.policy?.timeoutMs !== undefined ? { policy: { ...d.policy, deadline: new Date(ctx.now() + d.policy.timeoutMs).toISOString() } } : {});
  const updated = await ctx.store.update<DeploymentRecord>(keys.deployment(dep.id), (d) =>
    d && d.currentBatch < batch ? { ...d, currentBatch: batch, updatedAt: isoNow(ctx), ...deadline(d) } : undefined,
  );
  return updated ?? dep;
}

/**
 * Creates the batch's jobs that do not exist yet, makes sure pending ones are queued, and wakes their agents. Runs on
 * every advance, so it reads the batch in one go and writes only what is missing: a 1,000-server batch must not cost
 * 1,000 transactions per reported event.
 */
async function ensureBatchJobs(ctx: EngineContext, dep: DeploymentRecord, batch: number): Promise<void> {
  // Older records lack gitUrl/instructions: fall back to the config in force.
  const repo = ctx.config(dep.repository)?.repositories[dep.repository];
  const agentIds = dep.batches[batch]?.agentIds ?? [];
  const createdAt = isoNow(ctx);
  const entries = agentIds.map((agentId) => {
    const jobId = jobIdFor(dep.id, batch, agentId);
    const job: JobRecord = {
            spec: {
              id: jobId,
              deploymentId: dep.id,
              repository: dep.repository,
              environment: dep.environment,
              ref: dep.ref,
              sha: dep.sha,
              git: { url: dep.gitUrl ?? dep.github?.cloneUrl ?? repo?.git ?? '' },
              instructions: dep.instructions ?? repo?.instructions ?? 'bitenvoy.yml',
              createdAt,
              ...(dep.rollbackOf ? { rollback: true } : {}),
              ...(dep.artifacts?.length ? { artifacts: dep.artifacts } : {}),
            },
            agentId,
            batch,
            state: 'pending',
            eventsAckedSeq: 0,
            logsAckedSeq: 0,
            events: [],
    };
    return { key: keys.job(jobId), value: job };
  });
  // One set-based write; jobs made before a crash stay as they are. A pending job is its agent's queue (an index),
  // so waking the agents of the new jobs is all that is left to do.
  const inserted = new Set(await ctx.store.insertMissing(entries));
  const made = entries.flatMap(({ key, value }) => (inserted.has(key) ? [{ agentId: value.agentId, jobId: value.spec.id }] : []));
  void ctx.notifier.jobsMade(dep.id, batch, made);
}

/**
 * Says how far the rollout got, in steps of 1 % of its servers (every server up to 100): the record is written at
 * most about 100 times per batch, not once per server — each write takes the deployment's row lock, which every
 * replica's advance waits for. The counts on the pages and in the API come from the job counters, exact at any time.
 */
async function describe(ctx: EngineContext, dep: DeploymentRecord, succeeded: number): Promise<void> {
  const step = Math.max(1, Math.floor(totalServers(dep) / 100));
  const description = describeDeployment(dep, succeeded - (succeeded % step));
  if (description === dep.description) return;
  let changed = false as boolean;
  const updated = await ctx.store.update<DeploymentRecord>(keys.deployment(dep.id), (d) => {
    if (!d || FINAL_DEPLOYMENT_STATES.includes(d.state) || d.description === description) return undefined;
    changed = true;
    return { ...d, description, updatedAt: isoNow(ctx) };
  });
  if (changed && updated) ctx.onChange(updated);
}

/**
 * Ends a rollout as `failure`; with `onFailure: rollback` the same write plans the rollback (the engine starts it), and
 * the description says what happens next.
 */
async function fail(ctx: EngineContext, dep: DeploymentRecord, why: string): Promise<void> {
  const rollback = dep.policy?.onFailure === 'rollback' ? await planAutoRollback(ctx, dep, await jobsOfDeployment(ctx.store, dep.id)) : undefined;
  if (!rollback) return finish(ctx, dep, 'failure', why);
  const next = describeAutoRollback(rollback);
  const room = Math.max(20, MAX_DESCRIPTION - next.length - 3);
  const short = why.length <= room ? why : `${why.slice(0, room - 1)}…`;
  return finish(ctx, dep, 'failure', `${short} — ${next}`, { autoRollback: rollback });
}

async function finish(ctx: EngineContext, dep: DeploymentRecord, state: 'success' | 'failure' | 'cancelled', description: string, extra: Pick<DeploymentRecord, 'autoRollback'> = {}): Promise<void> {
  let finishedNow = false as boolean;
  const finished = await ctx.store.update<DeploymentRecord>(keys.deployment(dep.id), (d) => {
    const next = d && transition(d, { type: 'finished', state, description, extra }, isoNow(ctx));
    finishedNow = next !== undefined;
    return next;
  });
  // The record leaves the active index with this write (a rollback still to start keeps it there, see document-tables.ts).
  for (const key of ctx.ensuredBatches) if (key.startsWith(`${dep.id}:`)) ctx.ensuredBatches.delete(key);
  if (!finishedNow || !finished) return;
  ctx.onChange(finished);
  ctx.log.info({ deploymentId: dep.id, state, description: finished.description }, 'deployment finished');
}
