/**
 * The instruction file's health gate (`validate`): after the last step, the server counts as deployed only when a
 * command exits 0 or a URL answers with the expected status, tried every `interval` until `timeout`. Each try's
 * result goes to the job's log; the last one names the failure.
 *
 * @example
 * const outcome = await runValidate(validate, { index: 3, reporter, cancel, system, command }); // 'succeeded' | 'cancelled' | message
 */
import type { InstructionFile } from '../config-schema/types.generated.js';
import { parseDuration } from '../lib/parse-duration.js';
import { sleep } from './hub-client.js';
import { httpRequest } from './http-request.js';
import type { JobReporter } from './job-reporter.js';

export type Validate = NonNullable<InstructionFile['validate']>;

const DEFAULT_TIMEOUT = '1m';
const DEFAULT_INTERVAL = '2s';
/** One HTTP try never waits longer than this, so a hanging server does not eat the whole timeout. */
const MAX_TRY_MS = 10_000;

export async function runValidate(
  validate: Validate,
  deps: {
    index: number;
    reporter: JobReporter;
    cancel: AbortSignal;
    system: (text: string) => void;
    /** Runs the `run` command like a step, with at most `timeoutMs`. */
    command: (run: string, timeoutMs: number) => Promise<{ exitCode: number | null; cancelled: boolean; timedOut: boolean }>;
  },
): Promise<string> {
  const ref = { index: deps.index, name: 'validate' };
  const timeoutMs = parseDuration(validate.timeout ?? DEFAULT_TIMEOUT, 'validate.timeout');
  const intervalMs = parseDuration(validate.interval ?? DEFAULT_INTERVAL, 'validate.interval');
  const target = validate.http ? `GET ${validate.http.url}` : `\`${validate.run}\``;
  const started = Date.now();
  const deadline = started + timeoutMs;
  await deps.reporter.step(ref, 'started');
  for (let tries = 1; ; tries++) {
    if (deps.cancel.aborted) {
      await deps.reporter.step(ref, 'failed', { message: 'cancelled' });
      return 'cancelled';
    }
    const left = Math.max(1, deadline - Date.now());
    const result = validate.http ? await tryHttp(validate.http, Math.min(left, MAX_TRY_MS), deps.cancel) : await tryCommand(validate.run!, left, deps);
    if (result === 'cancelled') continue;
    if (result === 'passed') {
      deps.system(`validate: ${target} passed (try ${tries})\n`);
      await deps.reporter.step(ref, 'succeeded', { durationMs: Date.now() - started });
      return 'succeeded';
    }
    if (Date.now() + intervalMs >= deadline) {
      const message = `validate: ${target} ${result}; still failing after ${tries} tr${tries === 1 ? 'y' : 'ies'} in ${Math.round(timeoutMs / 1000)} s`;
      deps.system(`${message}\n`);
      await deps.reporter.step(ref, 'failed', { durationMs: Date.now() - started, message });
      return message;
    }
    deps.system(`validate: ${target} ${result}; trying again in ${Math.round(intervalMs / 100) / 10} s\n`);
    await sleep(intervalMs, deps.cancel).catch(() => undefined);
  }
}

async function tryHttp(http: NonNullable<Validate['http']>, timeoutMs: number, signal: AbortSignal): Promise<string> {
  const expected = http.status ?? 200;
  try {
    const res = await httpRequest('GET', http.url, { timeoutMs, signal });
    return res.status === expected ? 'passed' : `answered ${res.status} (expected ${expected})`;
  } catch (err) {
    return signal.aborted ? 'cancelled' : `did not answer (${(err as Error).message})`;
  }
}

async function tryCommand(run: string, timeoutMs: number, deps: Parameters<typeof runValidate>[1]): Promise<string> {
  const result = await deps.command(run, timeoutMs);
  if (result.cancelled) return 'cancelled';
  if (result.timedOut) return `did not finish within ${Math.round(timeoutMs / 1000)} s`;
  return result.exitCode === 0 ? 'passed' : `exited with code ${result.exitCode ?? 'none (killed)'}`;
}
