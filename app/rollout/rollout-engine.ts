/**
 * The rollout engine: turns a deployment request into batches of jobs, hands jobs to agents, and moves each
 * deployment forward as its jobs end. Everything lives in the store, so a hub killed at any point picks up where it
 * was; job ids are derived from deployment, batch and agent, so re-creating a batch after a crash is a no-op.
 *
 * @example
 * const engine = new RolloutEngine({ store, log, settings, config: (repository) => configs.current(repository) });
 * await engine.start();
 * const deployment = await engine.createDeployment({ repository: 'acme/shop', ref: 'main', environment: 'staging' }, 'cli');
 */
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type {
  AckResponse,
  ClaimResponse,
  CreateDeploymentRequest,
  GitAuth,
  JobEvent,
  JobSpec,
  LeaseResponse,
  LogChunk,
} from '../../lib/protocol.js';
import { recordAudit } from '../audit/audit-log.js';
import { findNextJobAndMore } from '../jobs/agent-queue.js';
import { claimJob, leaseOf, renewLease } from '../jobs/claim-job.js';
import { seqGap } from '../jobs/job-errors.js';
import { appendLogChunks } from '../jobs/job-logs.js';
import { JobNotifier } from '../jobs/job-notifier.js';
import { recordEvents } from '../jobs/record-events.js';
import { keys, type AgentRecord, type DeploymentRecord, type JobRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { advanceDeployment, continueDeployment } from './advance-deployment.js';
import { cancelDeployment } from './cancel-deployment.js';
import { DeploymentChanges } from './deployment-changes.js';
import { markRollbackStarted, rollbackToStart, type PlannedRollback } from './auto-rollback.js';
import { claimSlot, listSlots, releaseSlot, slotKey, type EnvironmentSlot } from './environment-slot.js';
import { describeDeployment } from './describe-deployment.js';
import { guardRailError, guardRailRefusals } from './guard-rails.js';
import { activeLock, describeLock } from './environment-locks.js';
import { howToUnlock, type HubMode } from './action-hints.js';
import { readDeploymentView, type DeploymentView } from './deployment-view.js';
import { isAgentOnline, isoNow, lostAfterMs, type ConfigInForce, type EngineContext, type EngineSettings } from './engine-context.js';
import { expireLeases, extendLeasesAfterRestart, listActiveDeploymentIds, noteUnseenAgents } from './expire-leases.js';
import { transition } from './rollout-phase.js';
import { deploymentState, pageOfDeployments } from '../store/deployment-queries.js';
import { agentCounts, pageOfAgents } from '../store/agent-queries.js';
import type { DescribeCommit } from './describe-commit.js';
import { planDeployment, type CommitReaders, type DeploymentLink, type ResolveRef } from './plan-deployment.js';
import { resolveRef as gitResolveRef } from './resolve-ref.js';
import { withArtifactTokens } from '../artifacts/resolve-github-artifact.js';
import type { ReadPermissions } from '../github/repository-token.js';

export type { EngineSettings } from './engine-context.js';
export { jobIdFor } from './engine-context.js';
export type { DeploymentView, JobView } from './deployment-view.js';
export type { PlannedRollback } from './auto-rollback.js';

/** How often the lease check also advances every active rollout. */
const SWEEP_MS = 5_000;
/** Deployments remembered as started (see RolloutEngine.claimJob) before the memory is cleared. */
const LEFT_QUEUE_KEPT = 1000;

export class RolloutEngine {
  readonly notifier = new JobNotifier();
  /** Tells a deployment's event streams that it changed (api/deployment-events.ts). */
  readonly changes = new DeploymentChanges();
  #ctx: EngineContext;
  #git: CommitReaders;
  #gitCredentials: ((deployment: DeploymentRecord, permissions?: ReadPermissions) => Promise<GitAuth | undefined>) | undefined;
  #startRollback: (failed: DeploymentRecord, plan: PlannedRollback) => Promise<void | DeploymentRecord>;
  #onJobClaimed: ((job: JobRecord) => void) | undefined;
  #lastSweep = 0;
  #timer: NodeJS.Timeout | undefined;
  /** One advance at a time per deployment in this process; the store gates it across processes. */
  #advancing = new Map<string, Promise<void>>();
  /** Per deployment, the advance queued behind the running one and not started yet. */
  #waitingAdvance = new Map<string, Promise<void>>();
  /** Deployments this process saw past `queued` (a state never entered again): their claims skip reading it. */
  #leftQueue = new Set<string>();

  constructor(opts: {
    store: Store;
    log: Logger;
    settings: EngineSettings;
    config: (repository: string) => ConfigInForce | undefined;
    now?: () => number;
    resolveRef?: ResolveRef;
    /** Reads a deployment's commit title and author when it is planned (describe-commit.ts); none by default. */
    describeCommit?: DescribeCommit;
    /** The artifacts a commit declares, resolved when a deployment of it is planned (app/artifacts/resolve-artifacts.ts). */
    resolveArtifacts?: CommitReaders['resolveArtifacts'];
    /** Called after a deployment's state or description changed (GitHub statuses follow it). */
    onChange?: (deployment: DeploymentRecord) => void;
    /**
     * Mints short-lived, one-repository read credentials for a claim (GitHub deployments): `contents: read` for git,
     * or the permissions a GitHub artifact's download needs.
     */
    gitCredentials?: (deployment: DeploymentRecord, permissions?: ReadPermissions) => Promise<GitAuth | undefined>;
    /**
     * Starts the rollback a failed rollout planned (`onFailure: rollback`) as the deployment `plan.deploymentId`.
     * GitHub mode creates a GitHub Deployment first; by default it is started here directly.
     */
    startRollback?: (failed: DeploymentRecord, plan: PlannedRollback) => Promise<void>;
    /** Each agent's verified cloud facts, joined when a deployment plans its servers (cloud discovery). */
    cloudFacts?: EngineContext['cloudFacts'];
    /** Called once per job, when its agent takes it (the metrics' dispatch latency). */
    onJobClaimed?: (job: JobRecord) => void;
    /** The hub's mode, for what messages tell people to do (local by default: no pull-request commands). */
    mode?: HubMode;
  }) {
    const onChange = opts.onChange;
    this.#onJobClaimed = opts.onJobClaimed;
    this.#ctx = {
      store: opts.store,
      log: opts.log,
      settings: opts.settings,
      config: opts.config,
      now: opts.now ?? Date.now,
      notifier: this.notifier,
      ensuredBatches: new Set(),
      mode: opts.mode ?? 'local',
      onChange: (d) => (this.changes.notify(d.id), onChange?.(d)),
      ...(opts.cloudFacts ? { cloudFacts: opts.cloudFacts } : {}),
    };
    this.#git = { resolveRef: opts.resolveRef ?? gitResolveRef, describeCommit: opts.describeCommit, resolveArtifacts: opts.resolveArtifacts };
    this.#gitCredentials = opts.gitCredentials;
    this.#startRollback = opts.startRollback ?? ((failed, plan) => this.startRollbackHere(failed, plan));
  }

  /** The default way to start a planned rollback: a deployment of the last good commit to the servers that moved. */
  async startRollbackHere(failed: DeploymentRecord, plan: PlannedRollback, link: Pick<DeploymentLink, 'github'> = {}): Promise<DeploymentRecord> {
    return this.createDeployment({ repository: failed.repository, ref: plan.sha, environment: failed.environment }, 'bitenvoy:auto-rollback', {
      ...link,
      id: plan.deploymentId,
      onlyAgents: plan.agentIds,
      rollbackOf: failed.id,
    });
  }

  /**
   * Reconciles after a restart (every active deployment advanced; leases extended when nobody checked them while
   * this hub was down), then checks leases every second — while `leading` says this replica runs the periodic work.
   */
  async start(options: { leading?: () => boolean; extendLeases?: boolean } = {}): Promise<void> {
    const leading = options.leading ?? (() => true);
    // The agents were up while no hub checked their leases: each gets a full lease from now. A replica joining a
    // running fleet (another one led meanwhile) must not: those leases were being checked.
    if (options.extendLeases ?? true) await extendLeasesAfterRestart(this.#ctx);
    for (const id of await listActiveDeploymentIds(this.#ctx)) await this.advance(id);
    await this.#reconcileSlots();
    let checking = false;
    this.#timer = setInterval(() => {
      // A slow store must not pile up overlapping checks; another replica may be the one that checks.
      if (checking || !leading()) return;
      checking = true;
      this.checkLeases()
        .catch((err: unknown) => this.#ctx.log.error({ err }, 'lease check failed'))
        .finally(() => (checking = false));
    }, 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.notifier.wakeAll();
  }

  // ---- deployments -------------------------------------------------------------------------------------------

  /** Plans and starts a deployment; its first jobs are claimable when this returns. No agents → an `error` record. */
  async createDeployment(req: CreateDeploymentRequest, createdBy: string, link: DeploymentLink = {}): Promise<DeploymentRecord> {
    const { store, log } = this.#ctx;
    const dep = await planDeployment(this.#ctx, this.#git, req, createdBy, link);
    // Every rollout passes the environment's guard rails here, whatever asked for it.
    const refusals = dep.state === 'error' ? [] : await this.#guardRailRefusals(dep);
    if (refusals.length) throw guardRailError(dep.environment, dep.sha, refusals);
    if (dep.state === 'error') {
      await store.set(keys.deployment(dep.id), dep);
      log.warn({ deploymentId: dep.id }, dep.description);
      this.#ctx.onChange(dep);
      return dep;
    }
    dep.description = describeDeployment(dep, 0);
    // One active rollout per environment: this one runs now, or waits behind the active one.
    const slot = await claimSlot(this.#ctx, dep);
    if (!slot.runNow) {
      dep.waitingFor = slot.activeId!;
      dep.description = `waiting for ${slot.activeId} to finish`;
    }
    await store.set(keys.deployment(dep.id), dep);
    log.info({ deploymentId: dep.id, repository: dep.repository, sha: dep.sha, environment: dep.environment, batches: dep.batches.length, waitingFor: dep.waitingFor }, 'deployment planned');
    if (slot.superseded) await this.#supersede(slot.superseded, dep.id);
    await this.advance(dep.id);
    const created = (await store.get<DeploymentRecord>(keys.deployment(dep.id)))!;
    this.#ctx.onChange(created);
    return created;
  }

  /** Why the environment's lock or promotion order holds `dep` back now; empty when nothing does. */
  async #guardRailRefusals(dep: DeploymentRecord): Promise<string[]> {
    const env = this.#ctx.config(dep.repository)?.repositories[dep.repository]?.environments[dep.environment];
    return guardRailRefusals(this.#ctx.store, { repository: dep.repository, environment: dep.environment, sha: dep.sha, after: env?.after, rollback: dep.rollbackOf !== undefined, mode: this.#ctx.mode }, this.#ctx.now());
  }

  /** The plan a deployment would get now (batches, skipped servers, or why it cannot run), stored nowhere. */
  previewDeployment(req: CreateDeploymentRequest, link: DeploymentLink = {}): Promise<DeploymentRecord> {
    return planDeployment(this.#ctx, this.#git, req, 'preview', link);
  }

  /** The newest deployments, newest first (an index read: the same cost with 10 or 100,000 in the store). */
  async listDeployments(limit = 50): Promise<DeploymentRecord[]> {
    return (await pageOfDeployments(this.#ctx.store, { limit })).deployments;
  }

  getDeploymentView(id: string): Promise<DeploymentView | undefined> {
    return readDeploymentView(this.#ctx.store, id);
  }

  /** A page of agents in name order (after `after`), each with whether it is online, and where the next page starts. */
  async listAgents(options: { after?: string; limit?: number } = {}): Promise<{ agents: Array<AgentRecord & { online: boolean }>; next?: string }> {
    const page = await pageOfAgents(this.#ctx.store, { limit: options.limit ?? 500, ...(options.after ? { after: options.after } : {}) });
    return { agents: page.agents.map((a) => ({ ...a, online: isAgentOnline(this.#ctx, a) })), ...(page.next ? { next: page.next } : {}) };
  }

  /** How many agents are enrolled, and how many are lost (not seen for three heartbeats). */
  agentCounts(): Promise<{ enrolled: number; lost: number }> {
    return agentCounts(this.#ctx.store, new Date(this.#ctx.now() - lostAfterMs(this.#ctx.settings)).toISOString());
  }

  // ---- jobs, as the agent API calls them ---------------------------------------------------------------------

  async nextJob(agentId: string): Promise<JobSpec | undefined> {
    // When it is the agent's only job, its claim tells the notifier that nothing is left: its next poll reads nothing.
    const epoch = this.notifier.epoch;
    const { job, only } = await findNextJobAndMore(this.#ctx.store, agentId);
    if (job && only) this.notifier.onlyPending(agentId, job.id, epoch);
    return job;
  }

  async claimJob(agentId: string, jobId: string, claimId: string): Promise<ClaimResponse> {
    const { store, log } = this.#ctx;
    const { job, firstClaim } = await claimJob(this.#ctx, agentId, jobId, claimId);
    if (firstClaim) {
      this.notifier.claimed(agentId, jobId);
      this.#onJobClaimed?.(job);
      this.changes.notify(job.spec.deploymentId);
      // Only the first server's claim starts the rollout: the others see it started without taking the deployment's
      // row lock (10,000 claims at once would queue on it, on every replica) — and, once this process has seen it
      // started, without reading it (a rollout never goes back to `queued`).
      const deploymentId = job.spec.deploymentId;
      if (!this.#leftQueue.has(deploymentId)) {
        const state = await deploymentState(store, deploymentId);
        if (state === 'queued') {
          let started = false as boolean;
          const dep = await store.update<DeploymentRecord>(keys.deployment(deploymentId), (d) => {
            const next = d && transition(d, { type: 'started' }, isoNow(this.#ctx));
            started = next !== undefined;
            return next;
          });
          if (started && dep) this.#ctx.onChange(dep);
        }
        if (state !== undefined) this.#noteLeftQueue(deploymentId);
      }
      log.info({ deploymentId: job.spec.deploymentId, jobId, agentId }, 'job claimed');
    }
    return { job: await this.#withCredentials(job.spec), lease: leaseOf(this.#ctx, job) };
  }

  #noteLeftQueue(deploymentId: string): void {
    // A few rollouts are claimed from at a time: the memory of older ones can go (at worst one read each again).
    if (this.#leftQueue.size >= LEFT_QUEUE_KEPT) this.#leftQueue.clear();
    this.#leftQueue.add(deploymentId);
  }

  /**
   * Adds fresh credentials to a claimed job's spec when its deployment needs them — for git, and a read token per
   * GitHub artifact — they are never stored.
   */
  async #withCredentials(spec: JobSpec): Promise<JobSpec> {
    const credentials = this.#gitCredentials;
    if (!credentials) return spec;
    const dep = await this.#ctx.store.get<DeploymentRecord>(keys.deployment(spec.deploymentId));
    if (!dep?.github) return spec;
    const auth = await credentials(dep);
    const withGit = auth ? { ...spec, git: { ...spec.git, auth } } : spec;
    return withArtifactTokens(withGit, async (permissions) => {
      const token = await credentials(dep, permissions);
      if (!token) throw new BitEnvoyError('BE_ARTIFACT', `no read token for the artifacts of ${dep.repository}: is the App still installed there?`);
      return token.password;
    });
  }

  renewLease(agentId: string, jobId: string, claimId: string): Promise<LeaseResponse> {
    return renewLease(this.#ctx, agentId, jobId, claimId);
  }

  /**
   * Stores an agent's events. With `answerFirst` (the agent API), the answer does not wait for the rollout to move:
   * the events are stored when it returns, and the advance runs next (errors logged; the lease check's sweep moves
   * the rollout at the latest), so 10,000 reports arriving together are answered at once, not behind each other.
   */
  async appendEvents(agentId: string, jobId: string, claimId: string, events: JobEvent[], options: { answerFirst?: boolean } = {}): Promise<AckResponse> {
    const { job, finishedNow, gapAt, stateChanged } = await recordEvents(this.#ctx.store, { agentId, jobId, claimId }, events, isoNow(this.#ctx));
    if (stateChanged) this.changes.notify(job.spec.deploymentId);
    // Only a job's end can move its rollout (its progress counts finished servers): `fetching` and `running` cannot.
    if (finishedNow) {
      this.#ctx.log.info({ deploymentId: job.spec.deploymentId, jobId, agentId, state: job.state, message: job.message }, 'job finished');
      const advanced = this.advance(job.spec.deploymentId);
      if (options.answerFirst) advanced.catch(() => undefined);
      else await advanced;
    }
    if (gapAt !== undefined) throw seqGap(jobId, 'event', gapAt);
    return { ackedSeq: job.eventsAckedSeq };
  }

  appendLogs(agentId: string, jobId: string, claimId: string, chunks: LogChunk[]): Promise<AckResponse> {
    return appendLogChunks(this.#ctx.store, { agentId, jobId, claimId }, chunks);
  }

  // ---- moving deployments forward ----------------------------------------------------------------------------

  /** Moves a deployment forward by what its jobs say. Serialised per deployment; safe to call any number of times. */
  advance(deploymentId: string): Promise<void> {
    // An advance already waiting to start reads everything written before it starts: callers share it. 10,000 job
    // ends arriving together cost a few advances, not 10,000 in a row.
    const waiting = this.#waitingAdvance.get(deploymentId);
    if (waiting) return waiting;
    const previous = this.#advancing.get(deploymentId) ?? Promise.resolve();
    const run = previous.then(async () => {
      this.#waitingAdvance.delete(deploymentId);
      await advanceDeployment(this.#ctx, deploymentId);
      // One read per advance: only a rollout that has ended has a rollback to start or a slot to hand over.
      const dep = await this.#ctx.store.get<DeploymentRecord>(keys.deployment(deploymentId));
      if (!dep || !FINAL_DEPLOYMENT_STATES.includes(dep.state)) return;
      await this.#startPlannedRollback(dep);
      await this.#startNextIfEnded(deploymentId);
    });
    const settled = run.catch((err: unknown) => this.#ctx.log.error({ err, deploymentId }, 'advancing deployment failed'));
    this.#waitingAdvance.set(deploymentId, run);
    this.#advancing.set(deploymentId, settled);
    void settled.then(() => {
      if (this.#advancing.get(deploymentId) === settled) this.#advancing.delete(deploymentId);
    });
    return run;
  }

  /**
   * A failed rollout's planned rollback starts once, as the id chosen when the failure was recorded — unless a newer
   * deployment took the environment in between (rolling back under it would undo it).
   */
  async #startPlannedRollback(failed: DeploymentRecord): Promise<void> {
    const { store, log } = this.#ctx;
    const failedId = failed.id;
    const plan = rollbackToStart(failed);
    if (!plan) return;
    let error: string | undefined;
    if (!(await store.get(keys.deployment(plan.deploymentId)))) {
      const holder = (await store.get<EnvironmentSlot>(slotKey(failed.repository, failed.environment)))?.active;
      if (holder && holder !== failed.id) error = `${holder} took the environment first`;
      else {
        try {
          await this.#startRollback(failed, plan);
        } catch (err) {
          error = (err as Error).message;
        }
      }
      await recordAudit(store, {
        actor: 'bitenvoy',
        action: 'rollback',
        repository: failed.repository,
        environment: failed.environment,
        sha: plan.sha,
        outcome: error ? 'not started' : 'started',
        ...(error ? {} : { deploymentId: plan.deploymentId }),
        detail: error ? `automatic rollback of ${failed.id}: ${error}` : `automatic rollback of ${failed.id} on ${plan.agentIds.length} server(s): ${failed.description}`,
      });
    }
    const updated = await markRollbackStarted(this.#ctx, failedId, error);
    if (error) {
      log.error({ deploymentId: failedId, rollback: plan.deploymentId }, `automatic rollback did not start: ${error}`);
      if (updated) this.#ctx.onChange(updated);
    } else {
      log.info({ deploymentId: failedId, rollback: plan.deploymentId, sha: plan.sha, servers: plan.agentIds.length }, 'automatic rollback started');
    }
  }

  /** A deployment that ended hands its environment to the one waiting behind it. */
  async #startNextIfEnded(deploymentId: string): Promise<void> {
    const dep = await this.#ctx.store.get<DeploymentRecord>(keys.deployment(deploymentId));
    if (!dep || !FINAL_DEPLOYMENT_STATES.includes(dep.state)) return;
    const next = await releaseSlot(this.#ctx, dep);
    if (!next) return;
    // A lock taken (or a promotion that changed) while it waited holds it back now: it ends saying why.
    const waiting = await this.#ctx.store.get<DeploymentRecord>(keys.deployment(next));
    const refusals = waiting && !FINAL_DEPLOYMENT_STATES.includes(waiting.state) ? await this.#guardRailRefusals(waiting) : [];
    const started = await this.#ctx.store.update<DeploymentRecord>(keys.deployment(next), (d) => {
      if (!d || !d.waitingFor || FINAL_DEPLOYMENT_STATES.includes(d.state)) return undefined;
      if (refusals.length) return transition(d, { type: 'refused', reasons: refusals }, isoNow(this.#ctx));
      const { waitingFor: _done, ...rest } = d;
      return { ...rest, description: describeDeployment(rest, 0), updatedAt: isoNow(this.#ctx) };
    });
    if (started?.state === 'error') {
      this.#ctx.log.info({ deploymentId: next, refusals }, 'the waiting deployment is held back by a guard rail: it ends');
      this.#ctx.onChange(started);
      return this.#startNextIfEnded(next);
    }
    this.#ctx.log.info({ deploymentId: next, after: deploymentId }, 'environment free: the waiting deployment starts');
    if (started) this.#ctx.onChange(started);
    await this.advance(next);
  }

  /** A newer request replaces an older one that had not started: it ends as `error`, "superseded by …". */
  async #supersede(olderId: string, newerId: string): Promise<void> {
    const { store } = this.#ctx;
    let changed = false as boolean;
    const older = await store.update<DeploymentRecord>(keys.deployment(olderId), (d) => {
      const next = d && transition(d, { type: 'superseded', by: newerId }, isoNow(this.#ctx));
      changed = next !== undefined;
      return next;
    });
    if (changed && older) {
      this.#ctx.log.info({ deploymentId: olderId, supersededBy: newerId }, 'deployment superseded');
      this.#ctx.onChange(older);
    }
  }

  /** After a restart: a slot whose active deployment ended (the hub stopped in between) starts its waiting one. */
  async #reconcileSlots(): Promise<void> {
    for (const slot of await listSlots(this.#ctx)) {
      if (slot.active) await this.#startNextIfEnded(slot.active);
    }
  }

  /**
   * Fails held jobs whose lease ran out and pending jobs whose agent is lost, then advances their deployments; also
   * moves rollouts whose pause ran out or whose deadline passed.
   */
  async checkLeases(): Promise<void> {
    const changed = new Set(await expireLeases(this.#ctx));
    const now = this.#ctx.now();
    const active = await listActiveDeploymentIds(this.#ctx);
    const read = await noteUnseenAgents(this.#ctx, active.filter((id) => !changed.has(id)));
    // Every few seconds each active rollout is advanced once: a job's end that a hub killed before advancing (or a
    // report answered before its advance ran) moves its rollout here at the latest. O(active rollouts).
    if (now - this.#lastSweep >= SWEEP_MS) {
      this.#lastSweep = now;
      for (const id of active) changed.add(id);
    }
    for (const id of active) {
      if (changed.has(id)) continue;
      const dep = read.get(id) ?? (await this.#ctx.store.get<DeploymentRecord>(keys.deployment(id)));
      const gateOpen = dep?.gate?.until !== undefined && Date.parse(dep.gate.until) <= now;
      const late = dep?.policy?.deadline !== undefined && Date.parse(dep.policy.deadline) <= now && !dep.waitingFor;
      if (gateOpen || late) changed.add(id);
    }
    for (const id of changed) await this.advance(id);
  }

  /** Stops a rollout (see cancel-deployment.ts); it ends `cancelled` once its running steps have stopped. */
  async cancelDeployment(id: string, by: string): Promise<DeploymentRecord> {
    const dep = await cancelDeployment(this.#ctx, id, by);
    await this.advance(id);
    return (await this.#ctx.store.get<DeploymentRecord>(keys.deployment(id))) ?? dep;
  }

  /** Releases a rollout held at a pause (`manual` or timed). False when it is not waiting at one. */
  async continueDeployment(id: string, by: string): Promise<boolean> {
    // A lock stops what would start now: the next batch waits at its gate until the environment is unlocked.
    const dep = await this.#ctx.store.get<DeploymentRecord>(keys.deployment(id));
    const lock = dep?.gate && !FINAL_DEPLOYMENT_STATES.includes(dep.state) ? await activeLock(this.#ctx.store, dep.repository, dep.environment, this.#ctx.now()) : undefined;
    if (dep && lock) {
      throw new BitEnvoyError('BE_GUARD_RAIL', `cannot continue ${id}: ${describeLock(lock)}; ${howToUnlock(this.#ctx.mode, lock)}, then continue the rollout`);
    }
    const released = await continueDeployment(this.#ctx, id, by);
    if (released) await this.advance(id);
    return released;
  }
}
