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
import { randomBytes } from 'node:crypto';
import { BitEnvoyError, isErrorCode } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { JobSpec } from '../lib/protocol.js';
import { loadAgentConfig, type AgentConfig } from './agent-config.js';
import { HubClient, sleep, type Backoff } from './hub-client.js';
import { JobReporter } from './job-reporter.js';
import { Journal, type JournalRecord } from './journal.js';
import { Redactor } from './redact.js';
import { loadSecrets } from './secrets.js';

export interface RunAgentOptions {
  dir: string;
  log: Logger;
  signal: AbortSignal;
  backoff?: Backoff;
  killGraceMs?: number;
}

export const INTERRUPTED = 'the agent restarted while this job was running; it was interrupted and will not be re-run';
const ALREADY_RUN = 'this server already ran this job (the hub offered it again); it is not run twice';
/** On shutdown, how long the agent tries to deliver what it has before leaving it in the journal. */
const SHUTDOWN_FLUSH_MS = 5000;

interface Agent {
  options: RunAgentOptions;
  config: AgentConfig;
  secrets: Map<string, string>;
  redactor: Redactor;
  client: HubClient;
  journal: Journal;
  log: Logger;
}

export async function runAgent(options: RunAgentOptions): Promise<void> {
  const config = await loadAgentConfig(options.dir);
  const log = options.log.child({ agent: config.enrollment.name });
  const secrets = await loadSecrets(config.secretsFile, log);
  const agent: Agent = {
    options,
    config,
    secrets,
    redactor: new Redactor(secrets.values()),
    client: new HubClient({ hub: config.enrollment.hub, credential: config.enrollment.credential, log, backoff: options.backoff }),
    journal: await Journal.open(options.dir),
    log,
  };
  log.info({ hub: config.enrollment.hub, agentId: config.enrollment.agentId }, `agent ${config.enrollment.name} started; polling ${config.enrollment.hub}`);
  try {
    await recover(agent);
    await agent.journal.prune();
    while (!options.signal.aborted) {
      let job: JobSpec | undefined;
      try {
        job = await agent.client.nextJob(config.enrollment.settings.pollWaitSeconds, options.signal);
      } catch (err) {
        if (options.signal.aborted) break;
        if (isErrorCode(err, 'BE_UNAUTHORIZED')) throw err;
        log.error({ err }, 'polling the hub failed');
        await sleep(1000, options.signal).catch(() => undefined);
        continue;
      }
      if (job) await handleJob(agent, job);
    }
  } catch (err) {
    if (!options.signal.aborted) throw err;
  }
  log.info('agent stopped');
}

/** Reports jobs interrupted by a crash as failed (never re-running them) and delivers every unacknowledged report. */
async function recover(agent: Agent): Promise<void> {
  for (const record of await agent.journal.all()) {
    if (record.phase === 'done' && !record.events.length && !record.logs.length) continue;
    const reporter = newReporter(agent, record);
    if (record.phase !== 'done') {
      agent.log.warn({ jobId: record.jobId, phase: record.phase }, INTERRUPTED);
      if (record.phase === 'claiming') {
        // The claim may not have reached the hub: make it ours (same claimId, so a retry is harmless) before reporting.
        const claimed = await agent.client.claim(record.jobId, record.claimId, agent.options.signal).then(() => true, () => false);
        if (!claimed) {
          await reporter.setPhase('done');
          continue;
        }
      }
      await reporter.state('failed', INTERRUPTED);
      await reporter.setPhase('done');
    }
    await reporter.close(agent.options.signal.aborted ? 0 : undefined);
  }
}

async function handleJob(agent: Agent, spec: JobSpec): Promise<void> {
  const { journal, client, log } = agent;
  const seen = await journal.read(spec.id);
  const record: JournalRecord = {
    jobId: spec.id,
    claimId: `cl_${randomBytes(12).toString('hex')}`,
    phase: 'claiming',
    spec,
    nextEventSeq: 1,
    nextLogSeq: 1,
    events: [],
    logs: [],
    updatedAt: new Date().toISOString(),
  };
  await journal.write(record);
  // The claim answer may carry short-lived git credentials: they are used for this run only, never journaled.
  let claimed: JobSpec;
  try {
    claimed = (await client.claim(spec.id, record.claimId, agent.options.signal)).job;
  } catch (err) {
    if (err instanceof BitEnvoyError && (err.status === 404 || err.status === 409)) {
      log.info({ jobId: spec.id }, `not running job: ${err.message}`);
      record.phase = 'done';
      await journal.write(record);
      return;
    }
    throw err;
  }
  const reporter = newReporter(agent, record);
  await reporter.setPhase(seen ? 'claimed' : 'running');
  reporter.start();
  if (seen) {
    log.warn({ jobId: spec.id }, ALREADY_RUN);
    await reporter.state('failed', ALREADY_RUN);
  } else {
    const cancel = new AbortController();
    const stopLease = renewLeaseUntilDone(agent, record, cancel);
    const onStop = () => cancel.abort(`the agent ${agent.config.enrollment.name} was stopped`);
    agent.options.signal.addEventListener('abort', onStop, { once: true });
    try {
      // The job machinery (git, YAML, the validator) loads with the first job, not while the agent idles.
      const { runJob } = await import('./run-job.js');
      const state = await runJob({
        spec: { ...spec, git: { ...spec.git, ...(claimed.id === spec.id && claimed.git.auth ? { auth: claimed.git.auth } : {}) } },
        agentDir: agent.options.dir,
        config: agent.config,
        secrets: agent.secrets,
        reporter,
        log,
        cancel: cancel.signal,
        killGraceMs: agent.options.killGraceMs,
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
  await reporter.close(agent.options.signal.aborted ? SHUTDOWN_FLUSH_MS : undefined);
}

/** Renews the lease every third of its length; the hub's cancel request (or the job ending there) stops the step. */
function renewLeaseUntilDone(agent: Agent, record: JournalRecord, cancel: AbortController): () => void {
  const stop = new AbortController();
  const everyMs = Math.max(500, (agent.config.enrollment.settings.leaseSeconds * 1000) / 3);
  void (async () => {
    while (!stop.signal.aborted) {
      await sleep(everyMs, stop.signal).catch(() => undefined);
      if (stop.signal.aborted) return;
      try {
        const lease = await agent.client.renewLease(record.jobId, record.claimId, stop.signal);
        if (lease.cancelRequested && !cancel.signal.aborted) cancel.abort('cancelled by the hub');
      } catch (err) {
        if (stop.signal.aborted) return;
        if (err instanceof BitEnvoyError && (err.status === 409 || err.status === 404)) {
          agent.log.warn({ jobId: record.jobId }, `the hub ended this job: ${err.message}`);
          if (!cancel.signal.aborted) cancel.abort(`the hub ended the job: ${err.message}`);
          return;
        }
      }
    }
  })();
  return () => stop.abort();
}

function newReporter(agent: Agent, record: JournalRecord): JobReporter {
  return new JobReporter({ record, journal: agent.journal, client: agent.client, redactor: agent.redactor, log: agent.log, signal: agent.options.signal });
}
