/**
 * Keeps a claimed job's lease alive while it runs: a renewal every third of the lease, so two can be lost before the
 * hub gives up on the job. The hub's answer is also how a cancellation reaches the agent: `cancelRequested`, or a
 * 409/404 saying the job already ended there, aborts `cancel`, which stops the running step's process group.
 *
 * @example
 * const stop = renewLeaseUntilDone({ client, jobId, claimId, leaseSeconds: 60, cancel, log });
 * try { await runJob(…) } finally { stop(); }
 */
import { BitEnvoyError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { sleep, type HubClient } from './hub-client.js';

export function renewLeaseUntilDone(options: {
  client: HubClient;
  jobId: string;
  claimId: string;
  leaseSeconds: number;
  cancel: AbortController;
  log: Logger;
}): () => void {
  const { client, jobId, claimId, cancel, log } = options;
  const stop = new AbortController();
  const everyMs = Math.max(200, (options.leaseSeconds * 1000) / 3);
  void (async () => {
    while (!stop.signal.aborted) {
      await sleep(everyMs, stop.signal).catch(() => undefined);
      if (stop.signal.aborted) return;
      try {
        const lease = await client.renewLease(jobId, claimId, stop.signal);
        if (lease.cancelRequested && !cancel.signal.aborted) {
          log.info({ jobId }, 'the hub asked to cancel this job');
          cancel.abort('cancelled by the hub');
        }
      } catch (err) {
        if (stop.signal.aborted) return;
        if (err instanceof BitEnvoyError && err.status >= 400 && err.status < 500) {
          // 409 BE_JOB_FINISHED (or 404: the hub no longer gives us this job): nothing we do now will count.
          log.warn({ jobId, code: err.code }, `the hub ended this job: ${err.message}`);
          if (!cancel.signal.aborted) cancel.abort(`the hub ended the job: ${err.message}`);
          return;
        }
      }
    }
  })();
  return () => stop.abort();
}
