/**
 * Deploys a commit when its required checks pass. A push to a branch that `auto: true` environments follow makes
 * the commit a candidate, kept in the store until it is decided; check_suite, check_run and status events for it
 * are debounced, then the hub asks GitHub for every check run and status (paged), makes sure the commit is still
 * the branch head and not already deployed there, and creates the GitHub Deployment. Checks that never report give
 * an `error` deployment when the environment's `checksTimeout` passes — never silence.
 *
 * Hub replicas share the candidates (auto-pending.ts): the replica that got the webhook evaluates the commit on its
 * own timer once the debounce passes; the leader's sweep evaluates what is due and claimed by nobody — the commits of a
 * replica that died before its timer fired, deadlines that passed while it was down. An evaluation runs under a claim
 * and marks an environment deployed by compare-and-set before it asks for the GitHub Deployment: one per commit and
 * environment, however many replicas look.
 *
 * @example
 * const auto = new AutoDeployer({ store, configs, octokitFor, outbox, log, debounceMs: 5000, publicUrl });
 * await auto.start({ leading: () => leader.leading });
 * app.on('push', (c) => auto.onPush(pushFrom(c.payload)));
 */
import type { JobArtifact } from '../../lib/protocol.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { recordAudit } from '../audit/audit-log.js';
import { activeLock } from '../rollout/environment-locks.js';
import { guardRailRefusals } from '../rollout/guard-rails.js';
import type { ConfigInForce } from '../config/config-repo.js';
import { parseDuration } from '../../lib/parse-duration.js';
import type { Logger } from '../../lib/logger.js';
import type { Store } from '../store/store.js';
import {
  claimEvaluation,
  deployedKey,
  finishEvaluation,
  heldKey,
  listDueHeld,
  listDuePending,
  pendingKey,
  postponeEvaluation,
  releaseEvaluation,
  type HeldAutoDeploy,
  type PendingCommit,
  type RepositoryRef,
} from './auto-pending.js';
import { branchHead, createAutoDeployment } from './create-auto-deployment.js';
import { CONFIG_CHECK_NAME } from './config-check-run.js';
import type { GitHubOutbox } from './github-outbox.js';
import { evaluateChecks } from './evaluate-checks.js';
import { listCommitChecks } from './list-commit-checks.js';
import type { StatusOctokit } from './status-reporter.js';

export type { HeldAutoDeploy, PendingCommit, RepositoryRef } from './auto-pending.js';

export interface AutoDeployerDeps {
  store: Store;
  configs: { current(repository: string): ConfigInForce | undefined };
  octokitFor(installationId: number): Promise<StatusOctokit>;
  /** Creates the GitHub Deployment and starts (or, checks never having reported, records as `error`) its rollout. */
  outbox: Pick<GitHubOutbox, 'enqueueAndWait'>;
  log: Logger;
  debounceMs: number;
  publicUrl: () => string;
  now?: () => number;
  /** The only hub on its store (SQLite): a claim left in the store is a stopped run's, never another replica's. */
  alone?: boolean;
  /** How often the leader sweeps for due candidates; default the debounce, within 1–5 s. */
  sweepMs?: number;
  /** How long an evaluation owns its commit; a dead evaluator's commit is taken over after it. */
  claimMs?: number;
  /**
   * Why the commit's artifacts are not there yet (its build workflow still running), or what they are (the GitHub
   * Deployment's payload names them) — none when they cannot be had for another reason, which the deployment then
   * says. A green commit waits for them like for a required check, up to the environment's `checksTimeout`.
   */
  artifactsPending?: (target: { repository: string; sha: string; ref: string; installationId: number }) => Promise<{ pending: string } | { artifacts: JobArtifact[] }>;
}

const DEFAULT_CHECKS_TIMEOUT = '1h';
const RETRY_MS = 60_000;
/** An evaluation reads every page of checks (each request with its deadline) and waits for the create's first try. */
const CLAIM_MS = 120_000;
/** The sweep leaves a due commit this long to the replica whose own timer is about to evaluate it. */
const SWEEP_GRACE_MS = 1000;
/** Another replica evaluates the commit: looked at again this often until its claim is gone. */
const BUSY_RETRY_MS = 1000;

export class AutoDeployer {
  #deps: AutoDeployerDeps;
  #now: () => number;
  #timers = new Map<string, { timer: NodeJS.Timeout; due: number }>();
  #running = new Map<string, Promise<void>>();
  #stopped = false;
  /** This process, as claims name it (a restarted process is a new evaluator). */
  #holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;

  constructor(deps: AutoDeployerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /**
   * Starts the sweep, which runs while `leading` says this replica leads. `afterOutage` (the default; the hub passes
   * whether the leader lease was free, i.e. no replica ran meanwhile): every undecided commit is evaluated again, due
   * or not — events may have been missed — (its deadline still holds), and every held one is looked at.
   */
  async start({ leading = () => true, afterOutage = true }: { leading?: () => boolean; afterOutage?: boolean } = {}): Promise<void> {
    if (afterOutage) {
      for (const { key } of await this.#deps.store.list<PendingCommit>('auto-pending:')) this.#schedule(key, this.#deps.debounceMs, true);
      for (const { key } of await this.#deps.store.list<HeldAutoDeploy>('auto-held:')) this.#scheduleHeld(key, 0);
    }
    if (this.#stopped) return;
    const everyMs = this.#deps.sweepMs ?? Math.min(5000, Math.max(1000, this.#deps.debounceMs));
    this.#sweeper = setInterval(() => {
      if (leading()) void this.sweep();
    }, everyMs);
    this.#sweeper.unref();
  }

  /**
   * One pass of the leader's sweep: evaluates the pending commits that are due (for a moment already: their own
   * replica's timer goes first) and claimed by nobody alive, and looks at the held environments that are due.
   */
  sweep(): Promise<void> {
    this.#sweeping ??= (async () => {
      const now = this.#now();
      for (const key of await listDuePending(this.#deps.store, now, now - SWEEP_GRACE_MS)) this.#schedule(key, 0);
      for (const key of await listDueHeld(this.#deps.store, now - SWEEP_GRACE_MS)) if (!this.#running.has(`held:${key}`)) this.#scheduleHeld(key, 0);
    })()
      .catch((err: unknown) => this.#deps.log.error({ err }, 'auto-deploy: the sweep for due commits failed; it runs again at the next pass'))
      .finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  /**
   * A commit went live in `environment`: automatic deploys of the repository that the promotion order held back
   * (environments with `after: <environment>`) look at their branch again.
   */
  async onLive(repository: string, environment: string): Promise<void> {
    const repo = this.#deps.configs.current(repository)?.repositories[repository];
    const held = await this.#deps.store.list<HeldAutoDeploy>(`auto-held:${repository}:`);
    for (const { key, value } of held) {
      if (repo?.environments[value.environment]?.after !== environment) continue;
      // Due now in the store too: should this replica die first, the leader's sweep looks at it.
      await this.#markHeldDue(key, this.#now());
      this.#scheduleHeld(key, 0);
    }
  }

  /**
   * A lock was released (`/unlock`): each automatic deploy of the repository it held back looks at its branch again
   * and deploys the head once its checks pass. Returns the environments it looks at again.
   */
  async onUnlock(repository: string, environment?: string): Promise<string[]> {
    const held = (await this.#deps.store.list<HeldAutoDeploy>(`auto-held:${repository}:`)).filter((e) => !environment || e.value.environment === environment);
    const again: string[] = [];
    for (const { key, value } of held) {
      try {
        if (await this.#recheckHeld(key)) again.push(value.environment);
      } catch (err) {
        // Still held (it is dropped only once its branch head is a candidate): look again in a minute.
        await this.#markHeldDue(key, this.#now() + RETRY_MS).catch(() => undefined);
        this.#scheduleHeld(key, RETRY_MS);
        throw err;
      }
    }
    return again;
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#sweeper);
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Resolves once no evaluation runs or waits on its debounce (a deadline later on does not count). */
  async idle(): Promise<void> {
    const soon = () => [...this.#timers.values()].some((t) => t.due <= Date.now() + this.#deps.debounceMs + 200);
    while (soon() || this.#running.size) {
      await Promise.all([...this.#running.values(), new Promise((r) => setTimeout(r, 20))]);
    }
  }

  /** A push: its new head becomes a candidate for every `auto` environment that follows the branch. */
  async onPush(push: { repository: RepositoryRef; installationId: number; branch: string; sha: string }): Promise<void> {
    const log = this.#deps.log.child({ repository: push.repository.fullName, sha: push.sha });
    if (/^0+$/.test(push.sha)) return log.debug('branch deleted: nothing to deploy');
    const added = await this.#addCandidate(push, [push.branch], this.#deps.debounceMs);
    if (!added.length) return log.debug(`no auto-deploy environment follows ${push.branch}`);
    log.info(`auto-deploy: ${push.sha.slice(0, 7)} on ${push.branch} waits for its checks (${added.join(', ')})`);
    this.#schedule(pendingKey(push.repository.fullName, push.sha), this.#deps.debounceMs);
  }

  /**
   * A check run, check suite or commit status changed on a commit. A commit pushed while the hub was away becomes a
   * candidate here if the event names its branches.
   */
  async onChecksChanged(event: { repository: RepositoryRef; installationId: number; sha: string; branches: string[] }): Promise<void> {
    const key = pendingKey(event.repository.fullName, event.sha);
    const known = await postponeEvaluation(this.#deps.store, key, this.#now() + this.#deps.debounceMs);
    if (!known && !(await this.#addCandidate(event, event.branches, this.#deps.debounceMs)).length) {
      return this.#deps.log.debug({ repository: event.repository.fullName, sha: event.sha }, 'checks changed on a commit no auto-deploy waits for');
    }
    this.#schedule(key, this.#deps.debounceMs);
  }

  /** Adds the commit's environments that follow one of `branches`, due for evaluation in `dueInMs`. */
  async #addCandidate(c: { repository: RepositoryRef; installationId: number; sha: string }, branches: string[], dueInMs: number): Promise<string[]> {
    const repo = this.#deps.configs.current(c.repository.fullName)?.repositories[c.repository.fullName];
    if (!repo) return [];
    const now = this.#now();
    const envs: PendingCommit['envs'] = {};
    for (const [name, env] of Object.entries(repo.environments)) {
      if (!env.auto || !branches.includes(env.branch)) continue;
      if ((await this.#deps.store.get<string>(deployedKey(c.repository.fullName, name))) === c.sha) continue;
      envs[name] = { branch: env.branch, deadline: new Date(now + parseDuration(env.checksTimeout ?? DEFAULT_CHECKS_TIMEOUT)).toISOString() };
    }
    if (!Object.keys(envs).length) return [];
    await this.#deps.store.update<PendingCommit>(pendingKey(c.repository.fullName, c.sha), (existing) => ({
      ...(existing?.claim ? { claim: existing.claim } : {}),
      dueAt: new Date(now + dueInMs).toISOString(),
      repository: c.repository,
      installationId: c.installationId,
      sha: c.sha,
      firstSeenAt: existing?.firstSeenAt ?? new Date(now).toISOString(),
      // A deadline, once set, is kept: later events must not postpone the error forever.
      envs: { ...envs, ...(existing?.envs ?? {}) },
    }));
    return Object.keys(envs);
  }

  /**
   * A held auto-deploy whose lock is gone: its branch head becomes a candidate again (checks evaluated as for a push).
   * While the lock holds, it waits for the lock's end, if it has one. True when the branch is looked at again.
   */
  async #recheckHeld(key: string): Promise<boolean> {
    const { store } = this.#deps;
    const held = await store.get<HeldAutoDeploy>(key);
    if (!held) return false;
    const lock = await activeLock(store, held.repository.fullName, held.environment, this.#now());
    if (lock) {
      // Due when the lock runs out, if it does; otherwise when /unlock says.
      await store.update<HeldAutoDeploy>(key, (current) => {
        if (!current) return undefined;
        const { dueAt: _, ...rest } = current;
        return lock.expiresAt ? { ...rest, dueAt: lock.expiresAt } : rest;
      });
      if (lock.expiresAt) this.#scheduleHeld(key, Date.parse(lock.expiresAt) - this.#now());
      return false;
    }
    // Dropped only once the branch was looked at: a GitHub error on the way leaves it held, to be tried again.
    const octokit = await this.#deps.octokitFor(held.installationId);
    const head = await branchHead(octokit, held.repository, held.branch);
    const log = this.#deps.log.child({ repository: held.repository.fullName, environment: held.environment });
    if (!head) {
      await store.delete(key);
      log.info(`auto-deploy to ${held.environment}: unlocked, but ${held.branch} no longer exists`);
      return true;
    }
    const added = await this.#addCandidate({ repository: held.repository, installationId: held.installationId, sha: head }, [held.branch], 0);
    await store.delete(key);
    log.info(`auto-deploy to ${held.environment}: unlocked; ${head.slice(0, 7)}, the head of ${held.branch}, ${added.includes(held.environment) ? 'waits for its checks' : 'is already deployed there'}`);
    if (added.length) this.#schedule(pendingKey(held.repository.fullName, head), 0);
    return true;
  }

  #scheduleHeld(key: string, delayMs: number): void {
    if (this.#stopped) return;
    const timerKey = `held:${key}`;
    clearTimeout(this.#timers.get(timerKey)?.timer);
    const timer = setTimeout(() => {
      this.#timers.delete(timerKey);
      const run = this.#recheckHeld(key)
        .then(() => undefined)
        .catch(async (err: unknown) => {
          this.#deps.log.error({ err, key }, 'auto-deploy: looking at a branch again after its lock failed; trying again in a minute');
          await this.#markHeldDue(key, this.#now() + RETRY_MS).catch(() => undefined);
          this.#scheduleHeld(key, RETRY_MS);
        })
        .finally(() => {
          if (this.#running.get(timerKey) === run) this.#running.delete(timerKey);
        });
      this.#running.set(timerKey, run);
    }, Math.max(0, delayMs) + 50);
    timer.unref();
    this.#timers.set(timerKey, { timer, due: Date.now() + Math.max(0, delayMs) + 50 });
  }

  async #markHeldDue(key: string, at: number): Promise<void> {
    await this.#deps.store.update<HeldAutoDeploy>(key, (current) => current && { ...current, dueAt: new Date(at).toISOString() });
  }

  /**
   * Debounce: the evaluation runs `delayMs` after the last event for the commit — if it is due by then (an event on
   * another replica may have moved it on) and no other replica evaluates it; `force` evaluates it even if not due.
   */
  #schedule(key: string, delayMs: number, force = false): void {
    if (this.#stopped) return;
    clearTimeout(this.#timers.get(key)?.timer);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      const previous = this.#running.get(key) ?? Promise.resolve();
      const run = previous
        .then(() => this.#claimAndEvaluate(key, force))
        .catch((err: unknown) => {
          this.#deps.log.error({ err, key }, 'auto-deploy: evaluating checks failed; trying again in a minute');
          this.#schedule(key, RETRY_MS);
        })
        .finally(() => {
          if (this.#running.get(key) === run) this.#running.delete(key);
        });
      this.#running.set(key, run);
    }, delayMs);
    timer.unref();
    this.#timers.set(key, { timer, due: Date.now() + delayMs });
  }

  async #claimAndEvaluate(key: string, force: boolean): Promise<void> {
    const { store } = this.#deps;
    const claimed = await claimEvaluation(store, key, { by: this.#holder, now: this.#now(), claimMs: this.#deps.claimMs ?? CLAIM_MS, force, ...(this.#deps.alone ? { alone: true } : {}) });
    if (claimed.state === 'gone') return;
    if (claimed.state === 'not-due') return this.#schedule(key, claimed.at - this.#now());
    if (claimed.state === 'busy') return this.#schedule(key, Math.min(claimed.until - this.#now(), BUSY_RETRY_MS));
    const claimedDue = claimed.pending.dueAt;
    try {
      const { left, settled, nextDueAt } = await this.#evaluate(claimed.pending);
      const due = await finishEvaluation(store, key, this.#holder, { claimedDue, left, settled, nextDueAt });
      // No event may come again: look once more when the first deadline passes (the leader's sweep does too).
      if (due !== undefined) this.#schedule(key, Math.max(0, due - this.#now()) + 50);
    } catch (err) {
      // Due again in a minute, for whichever replica is alive then.
      await releaseEvaluation(store, key, this.#holder, { claimedDue, retryAt: this.#now() + RETRY_MS }).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Decides each environment the commit waits for: deployed (or `error` once its deadline passed), held, dropped, or
   * still waiting (`left`). `settled`: decided for good, whatever event comes for the commit later.
   */
  async #evaluate(pending: PendingCommit): Promise<{ left: PendingCommit['envs']; settled: string[]; nextDueAt: number | undefined }> {
    const { store } = this.#deps;
    const { repository, sha } = pending;
    const log = this.#deps.log.child({ repository: repository.fullName, sha });
    const repo = this.#deps.configs.current(repository.fullName)?.repositories[repository.fullName];
    const octokit = await this.#deps.octokitFor(pending.installationId);
    const heads = new Map<string, string | undefined>();
    let read: Awaited<ReturnType<typeof listCommitChecks>> | undefined;
    const left: PendingCommit['envs'] = {};
    const settled: string[] = [];
    let retryAt = Infinity;

    for (const [name, wait] of Object.entries(pending.envs)) {
      const env = repo?.environments[name];
      if (!env?.auto || env.branch !== wait.branch) {
        log.info(`auto-deploy to ${name}: the config no longer deploys ${wait.branch} there automatically`);
        settled.push(name);
        continue;
      }
      if (!heads.has(wait.branch)) heads.set(wait.branch, await branchHead(octokit, repository, wait.branch));
      if (heads.get(wait.branch) !== sha) {
        log.info(`auto-deploy to ${name}: ${sha.slice(0, 7)} is no longer the head of ${wait.branch}; the newer head is deployed instead`);
        settled.push(name);
        continue;
      }
      if ((await store.get<string>(deployedKey(repository.fullName, name))) === sha) {
        settled.push(name);
        continue;
      }
      read ??= await listCommitChecks(octokit, { owner: repository.owner, repo: repository.name, sha });
      // A listing GitHub cut short is never green: the checks it did not show could be red.
      const verdict = evaluateChecks(env.requiredChecks ?? 'all', read.checks, { ignore: [CONFIG_CHECK_NAME], ...(read.incomplete ? { incomplete: read.incomplete } : {}) });
      if (verdict.verdict === 'red') {
        log.info(`auto-deploy to ${name}: not deploying ${sha.slice(0, 7)}: ${verdict.description}`);
        continue;
      }
      if (verdict.verdict === 'green') {
        // The guard rails the engine applies (lock, promotion order), asked first: a commit they hold back is held
        // here, never created as a GitHub deployment that fails, and the branch is looked at again when they let go.
        const lock = await activeLock(store, repository.fullName, name, this.#now());
        const refusals = await guardRailRefusals(store, { repository: repository.fullName, environment: name, sha, after: env.after }, this.#now());
        if (refusals.length) {
          const until = lock ? 'once unlocked' : `once ${env.after} runs it`;
          log.info(`auto-deploy to ${name}: not deploying ${sha.slice(0, 7)} yet: ${refusals.join('; ')}`);
          await recordAudit(store, { actor: 'auto', action: 'auto-deploy', repository: repository.fullName, environment: name, sha, outcome: 'skipped', detail: `${refusals.join('; ')}; deploys the head of ${wait.branch} ${until}` });
          const key = heldKey(repository.fullName, name);
          await store.set<HeldAutoDeploy>(key, { repository, installationId: pending.installationId, environment: name, branch: wait.branch, sha, ...(lock?.expiresAt ? { dueAt: lock.expiresAt } : {}) });
          if (lock?.expiresAt) this.#scheduleHeld(key, Date.parse(lock.expiresAt) - this.#now());
          settled.push(name);
          continue;
        }
        const found = (await this.#deps.artifactsPending?.({ repository: repository.fullName, sha, ref: wait.branch, installationId: pending.installationId })) ?? { artifacts: [] };
        if ('artifacts' in found) {
          await createAutoDeployment(this.#deps, pending, name, env, `${verdict.description} on ${wait.branch}`, false, found.artifacts);
          settled.push(name);
          continue;
        }
        log.info(`auto-deploy to ${name}: ${sha.slice(0, 7)} is green, waiting for its artifacts: ${found.pending}`);
      }
      const deadline = Date.parse(wait.deadline);
      if (this.#now() >= deadline) {
        // Green but its artifacts never came: deployed all the same, and its plan says which artifact is missing.
        if (verdict.verdict === 'green') await createAutoDeployment(this.#deps, pending, name, env, `${verdict.description} on ${wait.branch}; its artifacts did not appear within ${env.checksTimeout ?? DEFAULT_CHECKS_TIMEOUT}`);
        else await createAutoDeployment(this.#deps, pending, name, env, `${verdict.description} — required checks did not report within ${env.checksTimeout ?? DEFAULT_CHECKS_TIMEOUT}`, true);
        settled.push(name);
        continue;
      }
      left[name] = wait;
      // Waiting for artifacts: looked at again on the next event for the commit (its workflow's check suite), and
      // at least every minute, should that event be missed.
      retryAt = Math.min(retryAt, deadline, verdict.verdict === 'green' ? this.#now() + RETRY_MS : Infinity);
    }
    return { left, settled, nextDueAt: Number.isFinite(retryAt) ? retryAt : undefined };
  }
}
