/**
 * The rollout engine: turns a deployment request into batches of jobs, hands jobs to agents, and moves each
 * deployment forward as its jobs end. Everything lives in the store, so a hub killed at any point picks up where it
 * was; job ids are derived from deployment, batch and agent, so re-creating a batch after a crash is a no-op.
 *
 * @example
 * const engine = new RolloutEngine({ store, log, settings, config: () => configRepo.current() });
 * await engine.start();
 * const deployment = await engine.createDeployment({ repository: 'acme/shop', ref: 'main', environment: 'staging' }, 'cli');
 */
import { randomBytes } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import {
  FINAL_DEPLOYMENT_STATES,
  type AckResponse,
  type ClaimResponse,
  type CreateDeploymentRequest,
  type GitAuth,
  type JobEvent,
  type JobSpec,
  type LeaseResponse,
  type LogChunk,
} from '../../lib/protocol.js';
import type { LoadedConfig } from '../../config-schema/validate-config-dir.js';
import { JobNotifier } from '../jobs/job-notifier.js';
import { applyEvents, isFinal, isHeld } from '../jobs/job-updates.js';
import { keys, type AgentRecord, type DeploymentRecord, type JobRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { describeDeployment, failureDescription, truncate } from './describe-deployment.js';
import { planRollout } from './plan-rollout.js';
import { resolveRef as gitResolveRef } from './resolve-ref.js';
import { describeSelector, selectAgents } from './select-agents.js';

export interface EngineSettings {
  leaseSeconds: number;
  heartbeatSeconds: number;
  pollWaitSeconds: number;
  publicUrl: string;
}

export interface JobView extends JobRecord {
  id: string;
  agentName: string;
  logTail: string[];
}

export interface DeploymentView {
  deployment: DeploymentRecord;
  jobs: JobView[];
}

/** Log chunks kept per job (older ones are dropped; each is at most 64 KiB, most are far smaller). */
const MAX_LOG_CHUNKS = 2000;
const LOG_TAIL_LINES = 50;
const ACTIVE_DEPLOYMENTS = 'active-deployments';

export class RolloutEngine {
  readonly notifier = new JobNotifier();
  #store: Store;
  #log: Logger;
  #settings: EngineSettings;
  #config: () => (LoadedConfig & { sha: string }) | undefined;
  #now: () => number;
  #resolveRef: (gitUrl: string, ref: string) => Promise<string>;
  #timer: NodeJS.Timeout | undefined;
  #advancing = new Map<string, Promise<void>>();
  #onChange: ((deployment: DeploymentRecord) => void) | undefined;
  #gitCredentials: ((deployment: DeploymentRecord) => Promise<GitAuth | undefined>) | undefined;

  constructor(opts: {
    store: Store;
    log: Logger;
    settings: EngineSettings;
    config: () => (LoadedConfig & { sha: string }) | undefined;
    now?: () => number;
    resolveRef?: (gitUrl: string, ref: string) => Promise<string>;
    /** Called after a deployment's state or description changed (GitHub statuses follow it). */
    onChange?: (deployment: DeploymentRecord) => void;
    /** Mints short-lived, one-repository read credentials for a claim (GitHub deployments). */
    gitCredentials?: (deployment: DeploymentRecord) => Promise<GitAuth | undefined>;
  }) {
    this.#onChange = opts.onChange;
    this.#gitCredentials = opts.gitCredentials;
    this.#store = opts.store;
    this.#log = opts.log;
    this.#settings = opts.settings;
    this.#config = opts.config;
    this.#now = opts.now ?? Date.now;
    this.#resolveRef = opts.resolveRef ?? gitResolveRef;
  }

  #iso(): string {
    return new Date(this.#now()).toISOString();
  }

  /** Reconciles after a restart (hub downtime never counts against agents' leases), then checks leases every second. */
  async start(): Promise<void> {
    const leaseFloor = new Date(this.#now() + this.#settings.leaseSeconds * 1000).toISOString();
    for (const id of await this.#activeIds()) {
      const dep = await this.#store.get<DeploymentRecord>(keys.deployment(id));
      if (!dep) continue;
      for (const jobId of this.#jobIdsUpTo(dep, dep.currentBatch)) {
        await this.#store.update<JobRecord>(keys.job(jobId), (job) =>
          job && isHeld(job) && (job.leaseExpiresAt ?? '') < leaseFloor ? { ...job, leaseExpiresAt: leaseFloor } : undefined,
        );
      }
      await this.advance(id);
    }
    this.#timer = setInterval(() => {
      this.checkLeases().catch((err: unknown) => this.#log.error({ err }, 'lease check failed'));
    }, 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.notifier.wakeAll();
  }

  // ---- deployments -------------------------------------------------------------------------------------------

  async createDeployment(req: CreateDeploymentRequest, createdBy: string, link: Pick<DeploymentRecord, 'github'> = {}): Promise<DeploymentRecord> {
    const config = this.#config();
    if (!config) {
      throw new BitEnvoyError('BE_CONFIG_UNAVAILABLE', 'no valid config loaded yet: set BITENVOY_CONFIG_REPO to the config repo and check /healthz for why it did not load');
    }
    const repo = config.repositories[req.repository];
    if (!repo) {
      const known = Object.keys(config.repositories);
      throw new BitEnvoyError('BE_DEPLOY_REJECTED', `repository \`${req.repository}\` is not configured; ${known.length ? `configured: ${known.join(', ')}` : 'add repositories/<owner>/<name>.yml to the config repo'}`);
    }
    const env = repo.environments[req.environment];
    if (!env) {
      throw new BitEnvoyError('BE_DEPLOY_REJECTED', `${req.repository} has no environment \`${req.environment}\`; its environments: ${Object.keys(repo.environments).join(', ')}`);
    }
    if (!repo.git && !link.github) {
      throw new BitEnvoyError('BE_DEPLOY_REJECTED', `${req.repository} has no \`git\` URL in ${repo.file}; in local mode agents need it to fetch the code: add \`git: https://…/${req.repository}.git\``);
    }
    const sha = await this.#resolveRef(repo.git ?? link.github!.cloneUrl, req.ref);
    const strategyName = env.strategy ?? 'all-at-once';
    const group = config.groups[env.group]!;
    const agents = await this.#agents();
    const matching = selectAgents(group.selector, agents);
    const lost = matching.filter((a) => !this.#online(a));
    const ready = matching.filter((a) => this.#online(a));
    const now = this.#iso();
    const dep: DeploymentRecord = {
      id: `dep_${randomBytes(6).toString('hex')}`,
      repository: req.repository,
      environment: req.environment,
      ref: req.ref,
      sha,
      state: 'queued',
      description: '',
      strategy: strategyName,
      group: env.group,
      configSha: config.sha,
      batches: planRollout(config.strategies[strategyName]!, ready),
      currentBatch: -1,
      skipped: lost.map((a) => ({ agentId: a.id, name: a.name, reason: `lost: last seen ${a.lastSeenAt}` })),
      createdBy,
      createdAt: now,
      updatedAt: now,
      ...(env.url ? { environmentUrl: env.url } : {}),
      ...link,
    };
    if (dep.batches.length === 0) {
      dep.state = 'error';
      dep.finishedAt = now;
      dep.description = truncate(
        `no agents in group ${env.group}: ${matching.length} of ${agents.length} enrolled agents match ${describeSelector(group.selector)}${lost.length ? `, ${lost.length} of them lost` : ''}`,
      );
      await this.#store.set(keys.deployment(dep.id), dep);
      this.#log.warn({ deploymentId: dep.id }, dep.description);
      this.#onChange?.(dep);
      return dep;
    }
    dep.description = describeDeployment(dep, []);
    await this.#store.set(keys.deployment(dep.id), dep);
    await this.#store.update<string[]>(ACTIVE_DEPLOYMENTS, (ids) => [...(ids ?? []), dep.id]);
    this.#log.info({ deploymentId: dep.id, repository: dep.repository, sha, environment: dep.environment, batches: dep.batches.length }, 'deployment planned');
    await this.advance(dep.id);
    const created = (await this.#store.get<DeploymentRecord>(keys.deployment(dep.id)))!;
    this.#onChange?.(created);
    return created;
  }

  async listDeployments(limit = 50): Promise<DeploymentRecord[]> {
    const all = await this.#store.list<DeploymentRecord>('deployment:');
    return all
      .map((e) => e.value)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, limit);
  }

  async getDeploymentView(id: string): Promise<DeploymentView | undefined> {
    const deployment = await this.#store.get<DeploymentRecord>(keys.deployment(id));
    if (!deployment) return undefined;
    const agents = new Map((await this.#agents()).map((a) => [a.id, a]));
    const jobs: JobView[] = [];
    for (const jobId of this.#jobIdsUpTo(deployment, deployment.currentBatch)) {
      const job = await this.#store.get<JobRecord>(keys.job(jobId));
      if (!job) continue;
      jobs.push({ ...job, id: jobId, agentName: agents.get(job.agentId)?.name ?? job.agentId, logTail: await this.#logTail(jobId) });
    }
    return { deployment, jobs };
  }

  async listAgents(): Promise<Array<AgentRecord & { online: boolean }>> {
    return (await this.#agents()).map((a) => ({ ...a, online: this.#online(a) }));
  }

  // ---- jobs, as the agent API calls them ---------------------------------------------------------------------

  async nextJob(agentId: string): Promise<JobSpec | undefined> {
    const queue = (await this.#store.get<string[]>(keys.agentQueue(agentId))) ?? [];
    const stale: string[] = [];
    let found: JobSpec | undefined;
    for (const jobId of queue) {
      const job = await this.#store.get<JobRecord>(keys.job(jobId));
      if (job?.state === 'pending' && job.agentId === agentId) {
        found = job.spec;
        break;
      }
      stale.push(jobId);
    }
    if (stale.length) await this.#store.update<string[]>(keys.agentQueue(agentId), (q) => (q ?? []).filter((id) => !stale.includes(id)));
    return found;
  }

  async claimJob(agentId: string, jobId: string, claimId: string): Promise<ClaimResponse> {
    let outcome = 'missing' as 'claimed' | 'again' | 'other' | 'final' | 'missing';
    const leaseExpiresAt = new Date(this.#now() + this.#settings.leaseSeconds * 1000).toISOString();
    const job = await this.#store.update<JobRecord>(keys.job(jobId), (current) => {
      if (!current || current.agentId !== agentId) return undefined;
      if (current.state === 'pending') {
        outcome = 'claimed';
        return { ...current, state: 'claimed', claimId, claimedAt: this.#iso(), leaseExpiresAt };
      }
      outcome = isFinal(current) ? 'final' : current.claimId === claimId ? 'again' : 'other';
      return undefined;
    });
    if (!job || outcome === 'missing') throw notFound(jobId);
    if (outcome === 'final' && job.claimId !== claimId) throw finished(jobId, job);
    if (outcome === 'other') throw new BitEnvoyError('BE_JOB_CLAIMED', `job ${jobId} was already claimed (with another claimId); run it only with the claim that won`);
    if (outcome === 'claimed') {
      await this.#store.update<string[]>(keys.agentQueue(agentId), (q) => (q ?? []).filter((id) => id !== jobId));
      const started = await this.#store.update<DeploymentRecord>(keys.deployment(job.spec.deploymentId), (d) =>
        d && d.state === 'queued' ? { ...d, state: 'in_progress', updatedAt: this.#iso() } : undefined,
      );
      if (started) this.#onChange?.(started);
      this.#log.info({ jobId, agentId }, 'job claimed');
    }
    return { job: await this.#withCredentials(job.spec), lease: this.#leaseOf(job) };
  }

  /** Adds fresh git credentials to a claimed job's spec when its deployment needs them; they are never stored. */
  async #withCredentials(spec: JobSpec): Promise<JobSpec> {
    if (!this.#gitCredentials) return spec;
    const dep = await this.#store.get<DeploymentRecord>(keys.deployment(spec.deploymentId));
    const auth = dep?.github ? await this.#gitCredentials(dep) : undefined;
    return auth ? { ...spec, git: { ...spec.git, auth } } : spec;
  }

  async renewLease(agentId: string, jobId: string, claimId: string): Promise<LeaseResponse> {
    const leaseExpiresAt = new Date(this.#now() + this.#settings.leaseSeconds * 1000).toISOString();
    const job = await this.#store.update<JobRecord>(keys.job(jobId), (current) =>
      current && current.agentId === agentId && current.claimId === claimId && isHeld(current) ? { ...current, leaseExpiresAt } : undefined,
    );
    this.#checkOwnership(job, agentId, jobId, claimId);
    if (isFinal(job!)) throw finished(jobId, job!);
    return this.#leaseOf(job!);
  }

  async appendEvents(agentId: string, jobId: string, claimId: string, events: JobEvent[]): Promise<AckResponse> {
    let gapAt: number | undefined;
    let wasFinal = false;
    const job = await this.#store.update<JobRecord>(keys.job(jobId), (current) => {
      if (!current || current.agentId !== agentId || current.claimId !== claimId) return undefined;
      wasFinal = isFinal(current);
      const result = applyEvents(current, events, this.#iso());
      gapAt = result.gapAt;
      return result.job;
    });
    this.#checkOwnership(job, agentId, jobId, claimId);
    if (!wasFinal && isFinal(job!)) {
      this.#log.info({ jobId, agentId, state: job!.state, message: job!.message }, 'job finished');
    }
    if (!wasFinal) await this.advance(job!.spec.deploymentId);
    if (gapAt !== undefined) throw seqGap(jobId, 'event', gapAt);
    return { ackedSeq: job!.eventsAckedSeq };
  }

  async appendLogs(agentId: string, jobId: string, claimId: string, chunks: LogChunk[]): Promise<AckResponse> {
    const job = await this.#store.get<JobRecord>(keys.job(jobId));
    this.#checkOwnership(job, agentId, jobId, claimId);
    let acked = job!.logsAckedSeq;
    let gapAt: number | undefined;
    for (const chunk of [...chunks].sort((a, b) => a.seq - b.seq)) {
      if (chunk.seq <= acked) continue;
      if (chunk.seq !== acked + 1) {
        gapAt = acked + 1;
        break;
      }
      await this.#store.set(keys.logChunk(jobId, chunk.seq), chunk);
      if (chunk.seq > MAX_LOG_CHUNKS) await this.#store.delete(keys.logChunk(jobId, chunk.seq - MAX_LOG_CHUNKS));
      acked = chunk.seq;
    }
    const updated = await this.#store.update<JobRecord>(keys.job(jobId), (current) =>
      current && current.logsAckedSeq < acked ? { ...current, logsAckedSeq: acked } : undefined,
    );
    if (gapAt !== undefined) throw seqGap(jobId, 'log chunk', gapAt);
    return { ackedSeq: Math.max(acked, updated?.logsAckedSeq ?? 0) };
  }

  // ---- moving deployments forward ----------------------------------------------------------------------------

  /** Moves a deployment forward by what its jobs say. Serialised per deployment; safe to call any number of times. */
  advance(deploymentId: string): Promise<void> {
    const previous = this.#advancing.get(deploymentId) ?? Promise.resolve();
    const run = previous.then(() => this.#advance(deploymentId));
    const settled = run.catch((err: unknown) => this.#log.error({ err, deploymentId }, 'advancing deployment failed'));
    this.#advancing.set(deploymentId, settled);
    void settled.then(() => {
      if (this.#advancing.get(deploymentId) === settled) this.#advancing.delete(deploymentId);
    });
    return run;
  }

  async #advance(id: string): Promise<void> {
    let dep = await this.#store.get<DeploymentRecord>(keys.deployment(id));
    if (!dep || FINAL_DEPLOYMENT_STATES.includes(dep.state)) return;
    if (dep.currentBatch < 0) dep = await this.#moveToBatch(dep, 0);
    for (;;) {
      await this.#ensureBatchJobs(dep, dep.currentBatch);
      const jobs = await this.#jobsUpTo(dep, dep.currentBatch);
      const agents = new Map((await this.#agents()).map((a) => [a.id, a]));
      const failed = jobs.filter((j) => isFinal(j) && j.state !== 'succeeded');
      const active = jobs.filter((j) => !isFinal(j));
      if (failed.length && active.length === 0) return this.#finish(dep, 'failure', failureDescription(failed, agents));
      const batchDone = jobs.filter((j) => j.batch === dep!.currentBatch).every((j) => j.state === 'succeeded');
      if (failed.length || !batchDone) {
        await this.#describe(dep, jobs);
        return;
      }
      if (dep.currentBatch + 1 >= dep.batches.length) {
        return this.#finish(dep, 'success', `${jobs.length}/${jobs.length} servers succeeded`);
      }
      dep = await this.#moveToBatch(dep, dep.currentBatch + 1);
    }
  }

  async #moveToBatch(dep: DeploymentRecord, batch: number): Promise<DeploymentRecord> {
    const updated = await this.#store.update<DeploymentRecord>(keys.deployment(dep.id), (d) =>
      d && d.currentBatch < batch ? { ...d, currentBatch: batch, updatedAt: this.#iso() } : undefined,
    );
    return updated ?? dep;
  }

  /** Creates the batch's jobs that do not exist yet and makes sure pending ones are queued for their agents. */
  async #ensureBatchJobs(dep: DeploymentRecord, batch: number): Promise<void> {
    const repo = this.#config()?.repositories[dep.repository];
    for (const agentId of dep.batches[batch]?.agentIds ?? []) {
      const jobId = jobIdFor(dep.id, batch, agentId);
      const job = await this.#store.update<JobRecord>(keys.job(jobId), (current) => {
        if (current) return undefined;
        return {
          spec: {
            id: jobId,
            deploymentId: dep.id,
            repository: dep.repository,
            environment: dep.environment,
            ref: dep.ref,
            sha: dep.sha,
            // A GitHub deployment is fetched from GitHub (where its token works); local mode from the configured URL.
            git: { url: dep.github?.cloneUrl ?? repo?.git ?? '' },
            instructions: repo?.instructions ?? 'bitenvoy.yml',
            createdAt: this.#iso(),
          },
          agentId,
          batch,
          state: 'pending',
          eventsAckedSeq: 0,
          logsAckedSeq: 0,
          events: [],
        };
      });
      if (job?.state === 'pending') {
        await this.#store.update<string[]>(keys.agentQueue(agentId), (q) => (q?.includes(jobId) ? undefined : [...(q ?? []), jobId]));
        this.notifier.notify(agentId);
      }
    }
  }

  async #describe(dep: DeploymentRecord, jobs: JobRecord[]): Promise<void> {
    const description = describeDeployment(dep, jobs);
    if (description === dep.description) return;
    const updated = await this.#store.update<DeploymentRecord>(keys.deployment(dep.id), (d) =>
      d && !FINAL_DEPLOYMENT_STATES.includes(d.state) ? { ...d, description, updatedAt: this.#iso() } : undefined,
    );
    if (updated) this.#onChange?.(updated);
  }

  async #finish(dep: DeploymentRecord, state: 'success' | 'failure', description: string): Promise<void> {
    const finished = await this.#store.update<DeploymentRecord>(keys.deployment(dep.id), (d) =>
      d && !FINAL_DEPLOYMENT_STATES.includes(d.state) ? { ...d, state, description: truncate(description), finishedAt: this.#iso(), updatedAt: this.#iso() } : undefined,
    );
    if (finished) this.#onChange?.(finished);
    await this.#store.update<string[]>(ACTIVE_DEPLOYMENTS, (ids) => (ids ?? []).filter((x) => x !== dep.id));
    this.#log.info({ deploymentId: dep.id, state, description }, 'deployment finished');
  }

  /** Fails held jobs whose lease ran out and pending jobs whose agent is lost, then advances their deployments. */
  async checkLeases(): Promise<void> {
    const now = this.#now();
    const agents = new Map((await this.#agents()).map((a) => [a.id, a]));
    for (const id of await this.#activeIds()) {
      const dep = await this.#store.get<DeploymentRecord>(keys.deployment(id));
      if (!dep) continue;
      let changed = false;
      for (const jobId of this.#jobIdsUpTo(dep, dep.currentBatch)) {
        await this.#store.update<JobRecord>(keys.job(jobId), (j) => {
          if (!j) return undefined;
          const name = agents.get(j.agentId)?.name ?? j.agentId;
          if (isHeld(j) && Date.parse(j.leaseExpiresAt ?? '') < now) {
            changed = true;
            return { ...j, state: 'failed', finishedAt: this.#iso(), message: `${name} stopped renewing its lease: agent lost or disconnected` };
          }
          const agent = agents.get(j.agentId);
          if (j.state === 'pending' && agent && !this.#online(agent) && now - Date.parse(j.spec.createdAt) > this.#lostAfterMs()) {
            changed = true;
            return { ...j, state: 'failed', finishedAt: this.#iso(), message: `${name} never picked up the job: agent lost since ${agent.lastSeenAt}` };
          }
          return undefined;
        });
      }
      if (changed) await this.advance(id);
    }
  }

  // ---- helpers -----------------------------------------------------------------------------------------------

  #lostAfterMs(): number {
    return 3 * this.#settings.heartbeatSeconds * 1000;
  }

  #online(agent: AgentRecord): boolean {
    return this.#now() - Date.parse(agent.lastSeenAt) <= this.#lostAfterMs();
  }

  async #agents(): Promise<AgentRecord[]> {
    return (await this.#store.list<AgentRecord>('agent:')).map((e) => e.value);
  }

  async #activeIds(): Promise<string[]> {
    return (await this.#store.get<string[]>(ACTIVE_DEPLOYMENTS)) ?? [];
  }

  #jobIdsUpTo(dep: DeploymentRecord, batch: number): string[] {
    return dep.batches.slice(0, batch + 1).flatMap((b, i) => b.agentIds.map((agentId) => jobIdFor(dep.id, i, agentId)));
  }

  async #jobsUpTo(dep: DeploymentRecord, batch: number): Promise<JobRecord[]> {
    const jobs: JobRecord[] = [];
    for (const id of this.#jobIdsUpTo(dep, batch)) {
      const job = await this.#store.get<JobRecord>(keys.job(id));
      if (job) jobs.push(job);
    }
    return jobs;
  }

  async #logTail(jobId: string): Promise<string[]> {
    const chunks = await this.#store.list<LogChunk>(keys.logPrefix(jobId));
    const lines: string[] = [];
    for (let i = chunks.length - 1; i >= 0 && lines.length <= LOG_TAIL_LINES; i--) {
      const text = chunks[i]!.value.data.replace(/\n$/, '');
      lines.unshift(...text.split('\n'));
    }
    return lines.slice(-LOG_TAIL_LINES);
  }

  #leaseOf(job: JobRecord): LeaseResponse {
    return { leaseExpiresAt: job.leaseExpiresAt ?? this.#iso(), leaseSeconds: this.#settings.leaseSeconds, cancelRequested: job.cancelRequested ?? false };
  }

  #checkOwnership(job: JobRecord | undefined, agentId: string, jobId: string, claimId: string): asserts job is JobRecord {
    if (!job || job.agentId !== agentId) throw notFound(jobId);
    if (job.claimId !== claimId) throw new BitEnvoyError('BE_JOB_CLAIMED', `job ${jobId} is held under another claimId; only the claim that won may report on it`);
  }
}

/** Deterministic, so re-creating a batch after a crash finds the jobs it already made. */
export function jobIdFor(deploymentId: string, batch: number, agentId: string): string {
  return `job_${deploymentId.replace(/^dep_/, '')}_${batch}_${agentId.replace(/^ag_/, '')}`;
}

function notFound(jobId: string): BitEnvoyError {
  return new BitEnvoyError('BE_NOT_FOUND', `no job ${jobId} for this agent`);
}

function finished(jobId: string, job: JobRecord): BitEnvoyError {
  return new BitEnvoyError('BE_JOB_FINISHED', `job ${jobId} already ended (${job.state}${job.message ? `: ${job.message}` : ''}); stop working on it`);
}

function seqGap(jobId: string, what: string, expectedSeq: number): BitEnvoyError {
  return new BitEnvoyError('BE_SEQ_GAP', `job ${jobId}: ${what} sequence numbers skip ahead; resend from ${expectedSeq}`, { details: { expectedSeq } });
}
