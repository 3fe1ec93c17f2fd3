/**
 * The agent's main loop: recover from the journal, then long-poll the hub, claim (journaled first), run one job at a
 * time while renewing its lease, and deliver every report. Survives hub restarts and network loss; never runs a
 * job twice.
 *
 * @example
 * const controller = new AbortController();
 * process.once('SIGTERM', () => controller.abort());
 * await runAgent({ dir: '/var/lib/bitenvoy-agent', log, signal: controller.signal });
 */
import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { BitEnvoyError, isErrorCode } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { MAX_POLL_WAIT_SECONDS, type JobSpec } from '../lib/protocol.js';
import { loadAgentConfig, type AgentConfig } from './agent-config.js';
import { checkClaim, checkJobSpec, unusableJobSpec } from './check-job-spec.js';
import { loadProtocolChecks } from '../lib/check-protocol.js';
import { backoffDelay, HubClient, sleep, type Backoff } from './hub-client.js';
import { JobReporter } from './job-reporter.js';
import { Journal, type JournalRecord } from './journal.js';
import { Redactor } from './redact.js';
import { renewLeaseUntilDone } from './renew-lease.js';
import { loadSecrets } from './load-secrets.js';

export interface RunAgentOptions {
  /** The agent directory (`agent.json`, `agent.yml`, `secrets.yml`, `journal/`, `git/`, `apps/`). */
  dir: string;
  log: Logger;
  /** Aborting it stops the agent: a running step is stopped and reported cancelled, reports get a last chance. */
  signal: AbortSignal;
  /** Retry timing towards the hub (default 250 ms doubling up to 10 s, with jitter). */
  backoff?: Backoff;
  /**
   * The pause after a poll the hub answered at once with no job (or with a 4xx error; network errors and 5xx are
   * retried with `backoff`): a hub or proxy that does not hold polls open must not be asked again and again
   * (default 500 ms doubling up to 30 s, with jitter).
   */
  pollBackoff?: Backoff;
  /** SIGTERM → SIGKILL grace for a step's process group (default 10 s). */
  killGraceMs?: number;
  /** After a stop, how long reports still try to reach the hub before they are left in the journal (default 5 s). */
  shutdownFlushMs?: number;
}

export const INTERRUPTED = 'the agent restarted while this job was running; it was interrupted and will not be re-run';
export const ALREADY_RUN = 'this server already ran this job (the hub offered it again); it is not run twice';
const SHUTDOWN_FLUSH_MS = 5000;
export const DEFAULT_POLL_BACKOFF: Backoff = { baseMs: 500, capMs: 30_000 };
/** A poll answered sooner than this was not held open: the next one waits (see pollBackoff). */
const HELD_POLL_MS = 500;

interface Agent {
  options: RunAgentOptions;
  config: AgentConfig;
  secrets: Map<string, string>;
  redactor: Redactor;
  client: HubClient;
  journal: Journal;
  log: Logger;
  /** Aborted a little after `options.signal`: reports still in flight get that long to arrive. */
  delivery: AbortSignal;
}

/**
 * Runs the agent until `signal` aborts. Throws only for what retrying cannot fix: not enrolled, an invalid
 * `agent.yml` or secrets file, or a credential the hub no longer knows.
 *
 * @example
 * await runAgent({ dir, log, signal, backoff: { baseMs: 50, capMs: 500 }, killGraceMs: 2000 });
 */
export async function runAgent(options: RunAgentOptions): Promise<void> {
  const config = await loadAgentConfig(options.dir);
  const log = options.log.child({ agent: config.enrollment.name });
  const secrets = await loadSecrets(config.secretsFile, log);
  const delivery = new AbortController();
  const onStop = () => setTimeout(() => delivery.abort(options.signal.reason), options.shutdownFlushMs ?? SHUTDOWN_FLUSH_MS).unref();
  options.signal.addEventListener('abort', onStop, { once: true });
  const agent: Agent = {
    options,
    config,
    secrets,
    redactor: new Redactor(secrets.values()),
    client: new HubClient({ hub: config.enrollment.hub, credential: config.enrollment.credential, log, ...(options.backoff ? { backoff: options.backoff } : {}) }),
    journal: await Journal.open(options.dir),
    log,
    delivery: delivery.signal,
  };
  log.info({ hub: config.enrollment.hub, agentId: config.enrollment.agentId }, `agent ${config.enrollment.name} started; polling ${config.enrollment.hub}`);
  // Beside the job loop, never in its way: a cloud that cannot be proved does not stop deployments.
  const stopProving = new AbortController();
  // Loaded only by agents that prove a cloud identity: the others do not pay for it in idle memory.
  const cloud = config.cloud;
  const proving = cloud
    ? import('./prove-cloud-identity.js').then(({ proveCloudIdentityUntil }) => proveCloudIdentityUntil(AbortSignal.any([options.signal, stopProving.signal]), { cloud, client: agent.client, log }))
    : undefined;
  try {
    await recover(agent);
    const wait = Math.min(MAX_POLL_WAIT_SECONDS, config.enrollment.settings.pollWaitSeconds);
    const pollBackoff = options.pollBackoff ?? DEFAULT_POLL_BACKOFF;
    // Polls in a row that came back at once without a job to run: each waits longer before the next.
    let quick = 0;
    const pause = () => sleep(backoffDelay(pollBackoff, quick++), options.signal).catch(() => undefined);
    while (!options.signal.aborted) {
      let job: JobSpec | undefined;
      const asked = Date.now();
      try {
        job = await agent.client.nextJob(wait, options.signal);
      } catch (err) {
        if (options.signal.aborted) break;
        if (isErrorCode(err, 'BE_UNAUTHORIZED')) {
          throw new BitEnvoyError(
            'BE_UNAUTHORIZED',
            `${config.enrollment.hub} does not accept this agent's credential (${err.message}); the agent was removed or the hub's data was reset: enroll again with \`bitenvoy agent enroll --force --hub … --token … --dir ${options.dir}\``,
          );
        }
        log.error({ err }, 'polling the hub failed; trying again after a pause');
        await pause();
        continue;
      }
      // A job to run, or a poll the hub really held open: all is well. Anything else waits before the next poll.
      const fine = job ? await handleJob(agent, job) : Date.now() - asked >= HELD_POLL_MS;
      if (fine) quick = 0;
      else await pause();
    }
  } catch (err) {
    if (!options.signal.aborted) throw err;
  } finally {
    options.signal.removeEventListener('abort', onStop);
    delivery.abort();
    stopProving.abort();
    await proving;
  }
  log.info('agent stopped');
}

/** Reports jobs interrupted by a crash as failed (never re-running them) and delivers every unacknowledged report. */
async function recover(agent: Agent): Promise<void> {
  for (const record of await agent.journal.all()) {
    agent.options.signal.throwIfAborted();
    if (record.phase !== 'done') {
      if (record.phase === 'claiming' && !(await claim(agent, record))) continue;
      agent.log.warn({ jobId: record.jobId, phase: record.phase }, INTERRUPTED);
      const reporter = newReporter(agent, record);
      await stopWhatTheStepLeft(agent, record, reporter);
      await reporter.state('failed', INTERRUPTED);
      await reporter.setPhase('done');
    }
    await deliver(agent, newReporter(agent, record));
  }
}

/** The interrupted step's processes outlived the agent (they have their own process group): stop them. */
async function stopWhatTheStepLeft(agent: Agent, record: JournalRecord, reporter: JobReporter): Promise<void> {
  const group = record.stepProcessGroup;
  if (record.phase !== 'running' || group === undefined) return;
  // Only after a crash mid-step: an idle agent does not load process handling.
  const { stopLeftoverStep } = await import('./stop-leftover-step.js');
  const { DEFAULT_KILL_GRACE_MS } = await import('./run-step.js');
  const stopped = await stopLeftoverStep(group, record.jobId, { graceMs: agent.options.killGraceMs ?? DEFAULT_KILL_GRACE_MS });
  if (stopped === 0) return;
  const line = `the interrupted step was still running (${stopped} process${stopped === 1 ? '' : 'es'} in group ${group}): stopped with SIGTERM, then SIGKILL after the grace`;
  agent.log.warn({ jobId: record.jobId, group }, line);
  reporter.output('system', `${line}\n`);
}

/** Runs (or reports) an offered job; false when there was nothing to do with it (unusable, or not ours to claim). */
async function handleJob(agent: Agent, offered: unknown): Promise<boolean> {
  const { journal, log } = agent;
  // A job is checked like any input: a malformed one is reported failed (or, without a usable id, skipped) and never
  // run; the spec keeps only known fields. Whatever git credentials a hub sends are for one run: never journaled.
  await loadProtocolChecks();
  const checked = checkJobSpec(offered);
  if (!checked.id) {
    log.warn(`ignoring a job the hub offered: ${checked.problem}`);
    return false;
  }
  const spec: JobSpec = checked.spec ?? unusableJobSpec(checked.id);
  const seen = await journal.hasSeen(spec.id);
  const earlier = seen ? await journal.read(spec.id) : undefined;
  // Reports of its earlier run that have not arrived yet go first; the new record must not replace them.
  if (earlier && !(await deliver(agent, newReporter(agent, earlier)))) return false;

  const record: JournalRecord = {
    jobId: spec.id,
    claimId: `cl_${randomHex(12)}`,
    phase: 'claiming',
    spec,
    nextEventSeq: 1,
    nextLogSeq: 1,
    events: [],
    logs: [],
    updatedAt: new Date().toISOString(),
  };
  await journal.write(record);
  const claimed = await claim(agent, record);
  if (!claimed) return false;
  const reporter = newReporter(agent, record);
  await reporter.setPhase(seen ? 'claimed' : 'running');
  reporter.start();
  if (seen) {
    log.warn({ jobId: spec.id }, ALREADY_RUN);
    await reporter.state('failed', ALREADY_RUN);
  } else if (checked.problem) {
    log.warn({ jobId: spec.id }, checked.problem);
    await reporter.state('failed', checked.problem);
  } else {
    const { auth, leaseSeconds, artifactTokens } = checkClaim(claimed, spec.id);
    const cancel = new AbortController();
    const stopLease = renewLeaseUntilDone({
      client: agent.client,
      jobId: spec.id,
      claimId: record.claimId,
      leaseSeconds: leaseSeconds ?? agent.config.enrollment.settings.leaseSeconds,
      cancel,
      log,
    });
    const onStop = () => cancel.abort(`the agent ${agent.config.enrollment.name} was stopped while the job ran`);
    agent.options.signal.addEventListener('abort', onStop, { once: true });
    try {
      // The job machinery (git, YAML, the validator) loads with the first job, not while the agent idles.
      const { runJob } = await import('./run-job.js');
      const state = await runJob({
        spec: {
          ...spec,
          git: { ...spec.git, ...(auth ? { auth } : {}) },
          // Download tokens come with the claim only, like git credentials: never journaled.
          ...(spec.artifacts ? { artifacts: spec.artifacts.map((a) => (artifactTokens?.has(a.name) ? { ...a, token: artifactTokens.get(a.name)! } : a)) } : {}),
        },
        agentDir: agent.options.dir,
        config: agent.config,
        secrets: agent.secrets,
        reporter,
        log,
        cancel: cancel.signal,
        ...(agent.options.killGraceMs === undefined ? {} : { killGraceMs: agent.options.killGraceMs }),
      });
      log.info({ jobId: spec.id, state }, `job ${state}`);
    } catch (err) {
      log.error({ err, jobId: spec.id }, 'job crashed');
      await reporter.state('failed', `the agent hit an unexpected error: ${(err as Error).message}`);
    } finally {
      agent.options.signal.removeEventListener('abort', onStop);
      stopLease();
    }
  }
  await reporter.setPhase('done');
  await deliver(agent, reporter);
  return true;
}

/**
 * Claims with the record's claimId (journaled before). A retried claim with the same id is harmless; a refusal
 * (another agent has it, the job is gone) drops the record: this agent never held the job.
 */
async function claim(agent: Agent, record: JournalRecord): Promise<Awaited<ReturnType<HubClient['claim']>> | undefined> {
  try {
    return await agent.client.claim(record.jobId, record.claimId, agent.options.signal);
  } catch (err) {
    if (err instanceof BitEnvoyError && err.status >= 400 && err.status < 500) {
      agent.log.info({ jobId: record.jobId, code: err.code }, `not running job ${record.jobId}: ${err.message}`);
      await agent.journal.forget(record.jobId);
      return undefined;
    }
    throw err;
  }
}

/** Delivers a finished job's reports; once the hub has them all, only the job's id stays in the journal. */
async function deliver(agent: Agent, reporter: JobReporter): Promise<boolean> {
  const delivered = await reporter.close();
  if (delivered && reporter.record.phase === 'done') await agent.journal.finish(reporter.record.jobId);
  return delivered;
}

function newReporter(agent: Agent, record: JournalRecord): JobReporter {
  return new JobReporter({
    record,
    journal: agent.journal,
    client: agent.client,
    redactor: agent.redactor,
    log: agent.log,
    signal: agent.delivery,
    ...(agent.options.backoff ? { backoff: agent.options.backoff } : {}),
  });
}

/**
 * `bytes` random bytes in hex. `node:crypto` is required on the first claim, not at start: Node's crypto module costs
 * an idle agent about 3 MB it would hold for nothing.
 */
function randomHex(bytes: number): string {
  const { randomBytes } = createRequire(import.meta.url)('node:crypto') as typeof Crypto;
  return randomBytes(bytes).toString('hex');
}
