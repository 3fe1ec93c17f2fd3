/**
 * Everything an agent tells the hub about one job goes through here: state and step events and log chunks get
 * sequence numbers, are journaled, redacted, batched (a flush every 200 ms, chunks of at most 16 KiB), and resent
 * until the hub acknowledges them. Sequence numbers make resending harmless. A send the hub answers without taking
 * anything is tried again after a jittered backoff, never in a tight loop, and the journal is written when reports
 * are made or the hub took some, not for every resend.
 *
 * @example
 * const reporter = new JobReporter({ record, journal, client, redactor, log });
 * reporter.start();
 * await reporter.state('running');
 * reporter.output('stdout', 'hello\n', 0);
 * await reporter.close(); // true once the hub has acknowledged everything
 */
import { BitEnvoyError, isErrorCode } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { MAX_AGENT_BODY_BYTES, type JobEvent, type LogChunk, type ReportedJobState, type StateEvent, type StepEvent } from '../lib/protocol.js';
import { backoffDelay, DEFAULT_BACKOFF, sleep, type Backoff, type HubClient } from './hub-client.js';
import type { Journal, JournalRecord } from './journal.js';
import { withoutCredentials } from '../lib/redact-url.js';
import { StreamRedactor, type Redactor } from './redact.js';

const FLUSH_MS = 200;
const CHUNK_CHARS = 16 * 1024;
const MAX_PER_REQUEST = 200;
/** Well under the hub's body limit even if every character needed a six-character JSON escape. */
const MAX_BATCH_CHARS = MAX_AGENT_BODY_BYTES / 8;

type Stream = LogChunk['stream'];

export class JobReporter {
  #record: JournalRecord;
  #journal: Journal;
  #client: HubClient;
  #redactor: Redactor;
  #log: Logger;
  #streams = new Map<string, StreamRedactor>();
  #open: { stream: Stream; step?: number; data: string; heldOnce?: boolean } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #signal: AbortSignal | undefined;
  #backoff: Backoff;

  constructor(options: { record: JournalRecord; journal: Journal; client: HubClient; redactor: Redactor; log: Logger; signal?: AbortSignal; backoff?: Backoff }) {
    this.#record = options.record;
    this.#journal = options.journal;
    this.#client = options.client;
    this.#redactor = options.redactor;
    this.#log = options.log;
    this.#signal = options.signal;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  get record(): JournalRecord {
    return this.#record;
  }

  start(): void {
    this.#timer = setInterval(() => void this.flush().catch(() => undefined), FLUSH_MS);
    this.#timer.unref();
  }

  async setPhase(phase: JournalRecord['phase']): Promise<void> {
    this.#record.phase = phase;
    await this.#journal.write(this.#record);
  }

  /** Journals the process group of the step that runs now (undefined once it ended). */
  async setStepProcessGroup(group: number | undefined): Promise<void> {
    if (group === undefined) delete this.#record.stepProcessGroup;
    else this.#record.stepProcessGroup = group;
    await this.#journal.write(this.#record);
  }

  async state(state: ReportedJobState, message?: string): Promise<void> {
    await this.#event({ type: 'state', state, ...(message === undefined ? {} : { message: withoutCredentials(this.#redactor.redact(message)) }) });
  }

  async step(step: { index: number; name: string }, status: StepEvent['status'], extra: { exitCode?: number | null; durationMs?: number; message?: string } = {}): Promise<void> {
    const { message, ...rest } = extra;
    await this.#event({ type: 'step', step, status, ...rest, ...(message === undefined ? {} : { message: withoutCredentials(this.#redactor.redact(message)) }) });
  }

  /**
   * Output of a step (or the agent's own `system` lines); redacted before it is kept anywhere. The agent's own lines
   * are complete when written, so they are redacted whole and kept in order at once; a step's output arrives in
   * pieces, so only a tail that may be the start of a secret waits for the next piece (or the step's end).
   */
  output(stream: Stream, text: string, step?: number): void {
    if (stream === 'system') {
      this.#append(stream, step, withoutCredentials(this.#redactor.redact(text)));
      return;
    }
    const key = `${stream}:${step ?? ''}`;
    let redactor = this.#streams.get(key);
    if (!redactor) this.#streams.set(key, (redactor = new StreamRedactor(this.#redactor)));
    this.#append(stream, step, redactor.push(text));
  }

  /** Ends a step's redaction windows (call when a step ends) so held-back characters are sent too, in order. */
  endOutput(step?: number): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const key = `${stream}:${step ?? ''}`;
      const redactor = this.#streams.get(key);
      if (!redactor) continue;
      this.#append(stream, step, redactor.end());
      this.#streams.delete(key);
    }
  }

  /** Sends what is pending; resolves when the hub has acknowledged it (retrying through outages). */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  /**
   * Stops the timer and delivers everything, retrying through outages. Resolves false when the reporter's signal
   * aborted first (the agent is stopping): what is left stays in the journal for the next start.
   */
  async close(): Promise<boolean> {
    if (this.#timer) clearInterval(this.#timer);
    for (const key of [...this.#streams.keys()]) this.endOutput(key.split(':')[1] ? Number(key.split(':')[1]) : undefined);
    this.#seal();
    await this.#journal.write(this.#record);
    try {
      while (this.#record.events.length || this.#record.logs.length) await this.flush();
      return true;
    } catch (err) {
      if (this.#signal?.aborted) return false;
      throw err;
    }
  }

  async #event(event: Omit<StateEvent, 'seq' | 'at'> | Omit<StepEvent, 'seq' | 'at'>): Promise<void> {
    this.#seal();
    this.#record.events.push({ ...event, seq: this.#record.nextEventSeq++, at: new Date().toISOString() } as JobEvent);
    await this.#journal.write(this.#record);
    void this.flush().catch(() => undefined);
  }

  #append(stream: Stream, step: number | undefined, data: string): void {
    if (!data) return;
    if (this.#open && (this.#open.stream !== stream || this.#open.step !== step)) this.#seal();
    this.#open ??= { stream, ...(step === undefined ? {} : { step }), data: '' };
    this.#open.data += data;
    if (data.includes('\n')) this.#open.heldOnce = false;
    if (this.#open.data.length >= CHUNK_CHARS) this.#seal();
  }

  /**
   * The timer's seal: up to the last complete line, so a line is rarely cut in two; a partial line is held one more
   * tick at most (sealed whole next time if no newline came).
   */
  #sealLines(): void {
    const open = this.#open;
    const cut = open ? open.data.lastIndexOf('\n') + 1 : 0;
    if (!open || cut === 0 || cut === open.data.length || open.heldOnce) {
      this.#seal();
      return;
    }
    const rest = open.data.slice(cut);
    open.data = open.data.slice(0, cut);
    this.#seal();
    this.#open = { stream: open.stream, ...(open.step === undefined ? {} : { step: open.step }), data: rest, heldOnce: true };
  }

  #seal(): void {
    const open = this.#open;
    this.#open = undefined;
    if (!open?.data) return;
    for (let i = 0; i < open.data.length; i += CHUNK_CHARS) {
      this.#record.logs.push({ seq: this.#record.nextLogSeq++, at: new Date().toISOString(), stream: open.stream, ...(open.step === undefined ? {} : { step: open.step }), data: open.data.slice(i, i + CHUNK_CHARS) });
    }
  }

  async #flush(): Promise<void> {
    const { jobId, claimId } = this.#record;
    // Logs before events, checked again before every events batch: when the hub hears that a job ended, all of its
    // output is already there to show (an event seals the output before it, so that output is in the outbox).
    this.#sealLines();
    // Sends in a row that the hub answered without taking anything (a hub that cannot store, a proxy in the way).
    let stalled = 0;
    for (;;) {
      let took: boolean;
      if (this.#record.logs.length) {
        took = await this.#flushQueue('logs', 'nextLogSeq', (batch) => this.#client.sendLogs(jobId, claimId, batch as LogChunk[], this.#signal));
      } else if (this.#record.events.length) {
        took = await this.#flushQueue('events', 'nextEventSeq', (batch) => this.#client.sendEvents(jobId, claimId, batch as JobEvent[], this.#signal));
      } else {
        return;
      }
      if (took) {
        stalled = 0;
      } else {
        const delay = backoffDelay(this.#backoff, stalled++);
        (stalled < 3 ? this.#log.debug : this.#log.warn).call(this.#log, { jobId, stalled }, `the hub took none of the reports sent; sending them again in ${Math.round(delay)} ms`);
        await sleep(delay, this.#signal);
      }
    }
  }

  /**
   * Sends the head of one outbox and drops what the hub acknowledged; journals only when that changed the outbox.
   * True when the hub took some of it.
   */
  async #flushQueue(queue: 'events' | 'logs', next: 'nextEventSeq' | 'nextLogSeq', send: (batch: Array<{ seq: number }>) => Promise<{ ackedSeq: number }>): Promise<boolean> {
    const pending: Array<{ seq: number }> = this.#record[queue];
    if (!pending.length) return true;
    const batch = takeBatch(pending);
    const { acked, renumbered } = await this.#send(() => send(batch), pending, next);
    // Items added while the request was out are kept: they all have higher sequence numbers.
    const left = this.#record[queue].filter((item: { seq: number }) => item.seq > acked);
    const took = left.length < this.#record[queue].length;
    if (!took && !renumbered) return false;
    if (queue === 'events') this.#record.events = left as JobEvent[];
    else this.#record.logs = left as LogChunk[];
    const last = left.at(-1);
    if (last) this.#record[next] = last.seq + 1;
    await this.#journal.write(this.#record);
    return took;
  }

  /** Sends a batch and returns the highest sequence number the hub holds (and whether what is left was renumbered). */
  async #send(send: () => Promise<{ ackedSeq: number }>, pending: Array<{ seq: number }>, next: 'nextEventSeq' | 'nextLogSeq'): Promise<{ acked: number; renumbered?: boolean }> {
    try {
      // Re-check what the other side sends: a 204 (no body) or a JSON `null` is an answer too, and must not throw.
      const answer: unknown = await send();
      const ackedSeq = typeof answer === 'object' && answer !== null ? (answer as { ackedSeq?: unknown }).ackedSeq : undefined;
      if (typeof ackedSeq === 'number' && Number.isSafeInteger(ackedSeq)) return { acked: ackedSeq };
      // An answer without a number acknowledges nothing (and drops nothing).
      this.#log.warn({ ackedSeq }, 'the hub answered reports without an acknowledged sequence number; sending them again');
      return { acked: 0 };
    } catch (err) {
      if (isErrorCode(err, 'BE_SEQ_GAP')) {
        const expected = Number((err.details as { expectedSeq?: number } | undefined)?.expectedSeq ?? 1);
        const first = pending[0]?.seq ?? expected;
        if (expected > first) {
          // The hub stored more than it told us (an acknowledgement was lost): resend from what it expects.
          this.#log.info({ expected }, 'hub already holds some of these reports; resending from where it expects');
          return { acked: expected - 1 };
        }
        // The hub lost reports it had acknowledged (restored from a backup, say). They are gone here too, so
        // what is left is renumbered to follow on from what the hub holds.
        this.#log.warn({ expected, first }, 'hub is missing reports it had acknowledged; renumbering the rest to follow on');
        pending.forEach((item, i) => (item.seq = expected + i));
        this.#record[next] = expected + pending.length;
        return { acked: expected - 1, renumbered: true };
      }
      if (err instanceof BitEnvoyError && err.status >= 400 && err.status < 500) {
        // The hub will never take this report (the job is gone, or the report is malformed): resending it forever
        // would wedge the agent, so it is dropped — loudly.
        this.#log.error({ code: err.code, err: err.message }, 'hub refused a report; dropping it');
        return { acked: Number.MAX_SAFE_INTEGER };
      }
      throw err;
    }
  }
}

/** The head of an outbox that fits one request: at most MAX_PER_REQUEST items and MAX_BATCH_CHARS of data. */
function takeBatch<T extends { seq: number }>(pending: T[]): T[] {
  const batch: T[] = [];
  let size = 0;
  for (const item of pending) {
    const itemSize = 'data' in item ? String(item.data).length : 200;
    if (batch.length && (batch.length >= MAX_PER_REQUEST || size + itemSize > MAX_BATCH_CHARS)) break;
    batch.push(item);
    size += itemSize;
  }
  return batch;
}
