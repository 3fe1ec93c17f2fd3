/**
 * A job's log: chunks acknowledged by sequence number like events, stored as numbered entries
 * (`log:<jobId>:<entry>`). Small chunks of the same stream and step are joined into the newest entry, empty ones
 * are acknowledged and not stored, and the log is bounded in bytes and in entries: past either bound the oldest
 * entries are dropped, counted on the job, and the tail says so. Every operation does work in proportion to its
 * request or to the tail, never to the whole log.
 */
import type { AckResponse, LogChunk } from '../../lib/protocol.js';
import { keys, type JobRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { assertHolder, seqGap } from './job-errors.js';

/** Log bytes kept per job; the newest ones. */
export const MAX_LOG_BYTES = 2 * 1024 * 1024;
/** Log entries kept per job. Joined chunks make ~130 entries of a full 2 MiB log; this bounds the rest. */
export const MAX_LOG_ENTRIES = 1000;
/** A chunk is joined to the newest entry while that entry stays within this many bytes (the agent's chunk size). */
export const JOIN_BYTES = 16 * 1024;
/** Lines of log the status page and the deployments API show per job. */
export const LOG_TAIL_LINES = 50;
/** The tail reads at most this many entries back, and shows at most this many characters. */
export const TAIL_MAX_ENTRIES = 64;
export const TAIL_MAX_CHARS = 16 * 1024;
/** Oldest entries dropped per append at most: a log over its bounds (e.g. from an older hub) shrinks over several. */
const MAX_DROPS_PER_APPEND = 1000;

/** One stored entry: chunks `seq`…`lastSeq` of one stream and step, joined. Entries from older hubs lack `lastSeq`. */
export interface LogEntry extends LogChunk {
  lastSeq?: number;
}

export interface LogBounds {
  maxBytes?: number;
  maxEntries?: number;
  joinBytes?: number;
}

/**
 * Stores the chunks that follow the last acknowledged one. Duplicates are ignored; a gap stores what came before
 * it and answers 409 BE_SEQ_GAP with `details.expectedSeq`. Appends to one job run one at a time.
 *
 * @example
 * await appendLogChunks(store, { agentId: 'ag_1', jobId, claimId: 'cl_x' }, [{ seq: 1, at, stream: 'stdout', data: 'migrating…\n' }]);
 */
export function appendLogChunks(store: Store, who: { agentId: string; jobId: string; claimId: string }, chunks: LogChunk[], bounds: LogBounds = {}): Promise<AckResponse> {
  return oneAtATime(store, who.jobId, () => append(store, who, chunks, bounds));
}

async function append(store: Store, who: { agentId: string; jobId: string; claimId: string }, chunks: LogChunk[], bounds: LogBounds): Promise<AckResponse> {
  const { agentId, jobId, claimId } = who;
  const job = await store.get<JobRecord>(keys.job(jobId));
  assertHolder(job, agentId, jobId, claimId);
  let acked = job.logsAckedSeq;
  let gapAt: number | undefined;
  const fresh: LogChunk[] = [];
  for (const chunk of [...chunks].sort((a, b) => a.seq - b.seq)) {
    if (chunk.seq <= acked) continue;
    if (chunk.seq !== acked + 1) {
      gapAt = acked + 1;
      break;
    }
    fresh.push(chunk);
    acked = chunk.seq;
  }
  if (fresh.length) {
    const { first, last } = entryRange(job);
    const { writes, newLast, bytes } = await joinChunks(store, job, fresh, { first, last }, bounds.joinBytes ?? JOIN_BYTES);
    // Entries first, then the record: a crash in between leaves the chunks unacknowledged, and the agent resends
    // them. (Joined into an entry that was rewritten, they may then show twice; they are never lost.)
    for (const [entry, value] of writes) await store.set(keys.logEntry(jobId, entry), value);
    const updated = await store.update<JobRecord>(keys.job(jobId), (current) =>
      current ? { ...current, logsAckedSeq: acked, logFirstEntry: first, logLastEntry: newLast, logBytes: (current.logBytes ?? 0) + bytes } : undefined,
    );
    await dropOldest(store, updated, bounds);
  }
  if (gapAt !== undefined) throw seqGap(jobId, 'log chunk', gapAt);
  return { ackedSeq: acked };
}

/** The numbers of a job's oldest and newest stored entry (older hubs numbered entries by chunk seq). */
export function entryRange(job: JobRecord): { first: number; last: number } {
  return { first: job.logFirstEntry ?? job.logFirstSeq ?? 1, last: job.logLastEntry ?? job.logsAckedSeq };
}

/**
 * Turns fresh chunks into entries to write: each non-empty chunk joins the newest entry when it has the same
 * stream and step and the entry stays within `joinBytes`, else starts the next entry.
 */
async function joinChunks(
  store: Store,
  job: JobRecord,
  fresh: LogChunk[],
  range: { first: number; last: number },
  joinBytes: number,
): Promise<{ writes: Array<[number, LogEntry]>; newLast: number; bytes: number }> {
  let open: { entry: number; value: LogEntry; bytes: number; changed: boolean } | undefined;
  if (range.last >= range.first) {
    const value = await store.get<LogEntry>(keys.logEntry(job.spec.id, range.last));
    // An entry holding chunks past the acknowledged seq is a crash's leftover: leave it as it is.
    if (value && (value.lastSeq ?? value.seq) <= job.logsAckedSeq) open = { entry: range.last, value, bytes: Buffer.byteLength(value.data), changed: false };
  }
  const writes: Array<[number, LogEntry]> = [];
  let last = range.last;
  let bytes = 0;
  for (const chunk of fresh) {
    const size = Buffer.byteLength(chunk.data);
    if (size === 0) continue;
    bytes += size;
    if (open && open.value.stream === chunk.stream && open.value.step === chunk.step && open.bytes + size <= joinBytes) {
      open.value = { ...open.value, lastSeq: chunk.seq, data: open.value.data + chunk.data };
      open.bytes += size;
      open.changed = true;
      continue;
    }
    if (open?.changed) writes.push([open.entry, open.value]);
    last += 1;
    const { seq, at, stream, step, data } = chunk;
    open = { entry: last, value: { seq, lastSeq: seq, at, stream, ...(step === undefined ? {} : { step }), data }, bytes: size, changed: true };
  }
  if (open?.changed) writes.push([open.entry, open.value]);
  return { writes, newLast: last, bytes };
}

/**
 * Deletes the oldest entries until the job is within its bounds (the newest entry always stays). `job` is the record
 * as this append's update committed it (not read again); the update below works from the record read under its lock.
 */
async function dropOldest(store: Store, job: JobRecord | undefined, bounds: LogBounds): Promise<void> {
  const maxBytes = bounds.maxBytes ?? MAX_LOG_BYTES;
  const maxEntries = bounds.maxEntries ?? MAX_LOG_ENTRIES;
  if (!job) return;
  const jobId = job.spec.id;
  const { first, last } = entryRange(job);
  let bytes = job.logBytes ?? 0;
  let next = first;
  let chunks = 0;
  const over = () => (bytes > maxBytes || last - next + 1 > maxEntries) && next < last && next - first < MAX_DROPS_PER_APPEND;
  while (over()) {
    const batch = Array.from({ length: Math.min(64, last - next) }, (_, i) => next + i);
    const entries = await store.getMany<LogEntry>(batch.map((entry) => keys.logEntry(jobId, entry)));
    for (const entry of entries) {
      if (!over()) break;
      bytes -= entry ? Buffer.byteLength(entry.data) : 0;
      chunks += entry ? (entry.lastSeq ?? entry.seq) - entry.seq + 1 : 0;
      next++;
    }
  }
  if (next === first) return;
  const freed = (job.logBytes ?? 0) - bytes;
  await store.update<JobRecord>(keys.job(jobId), (current) =>
    current ? { ...current, logFirstEntry: next, logBytes: (current.logBytes ?? 0) - freed, logsDropped: (current.logsDropped ?? 0) + chunks } : undefined,
  );
  for (let entry = first; entry < next; entry++) await store.delete(keys.logEntry(jobId, entry));
}

/**
 * The last `maxLines` lines of a job's log, read backwards a few entries at a time: at most
 * {@link TAIL_MAX_ENTRIES} entries and about {@link TAIL_MAX_CHARS} characters, however long the log. When the tail
 * reaches back to chunks that were dropped, its first line says so.
 *
 * @example
 * await readLogTail(store, job); // ['Applying migration 42…', 'done']
 */
export async function readLogTail(store: Store, job: JobRecord, maxLines = LOG_TAIL_LINES): Promise<string[]> {
  const { first, last } = entryRange(job);
  const parts: string[] = [];
  let newlines = 0;
  let chars = 0;
  let entry = last;
  const more = () => entry >= first && newlines <= maxLines && chars < TAIL_MAX_CHARS && last - entry < TAIL_MAX_ENTRIES;
  while (more()) {
    const batch = Array.from({ length: Math.min(16, entry - first + 1) }, (_, i) => entry - i);
    const entries = await store.getMany<LogEntry>(batch.map((n) => keys.logEntry(job.spec.id, n)));
    for (const value of entries) {
      if (!more()) break;
      entry--;
      if (!value) continue;
      parts.unshift(value.data);
      chars += value.data.length;
      newlines += value.data.split('\n').length - 1;
    }
  }
  if (parts.length === 0) return [];
  const text = parts.join('');
  const lines = (text.length > TAIL_MAX_CHARS ? text.slice(-TAIL_MAX_CHARS) : text).replace(/\n$/, '').split('\n');
  if (lines.length < maxLines && entry < first && job.logsDropped) {
    return [`[bitenvoy: ${job.logsDropped} older log chunks were dropped; the hub keeps the newest ${MAX_LOG_BYTES / 1024 / 1024} MiB per job]`, ...lines].slice(-maxLines);
  }
  return lines.slice(-maxLines);
}

const queues = new WeakMap<Store, Map<string, Promise<unknown>>>();

/** Runs `fn` after every earlier call for the same store and job has settled (joining needs the newest entry). */
function oneAtATime<T>(store: Store, jobId: string, fn: () => Promise<T>): Promise<T> {
  let byJob = queues.get(store);
  if (!byJob) queues.set(store, (byJob = new Map()));
  const previous = byJob.get(jobId) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.catch(() => undefined);
  byJob.set(jobId, settled);
  void settled.then(() => {
    if (byJob.get(jobId) === settled) byJob.delete(jobId);
  });
  return run;
}
