/**
 * A job's log: one store key per chunk (`log:<jobId>:<seq>`), acknowledged by sequence number like events, and
 * bounded: past {@link MAX_LOG_BYTES} the oldest chunks are dropped, counted on the job, and the tail says so.
 */
import type { AckResponse, LogChunk } from '../../lib/protocol.js';
import { keys, type JobRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { assertHolder, seqGap } from './job-errors.js';

/** Log bytes kept per job; the newest ones. */
export const MAX_LOG_BYTES = 2 * 1024 * 1024;
/** Lines of log the status page and the deployments API show per job. */
export const LOG_TAIL_LINES = 50;

/**
 * Stores the chunks that follow the last acknowledged one. Duplicates are ignored; a gap stores what came before
 * it and answers 409 BE_SEQ_GAP with `details.expectedSeq`.
 *
 * @example
 * await appendLogChunks(store, 'ag_1', jobId, 'cl_x', [{ seq: 1, at, stream: 'stdout', data: 'migrating…\n' }]);
 */
export async function appendLogChunks(
  store: Store,
  who: { agentId: string; jobId: string; claimId: string },
  chunks: LogChunk[],
  maxBytes = MAX_LOG_BYTES,
): Promise<AckResponse> {
  const { agentId, jobId, claimId } = who;
  const job = await store.get<JobRecord>(keys.job(jobId));
  assertHolder(job, agentId, jobId, claimId);
  let acked = job.logsAckedSeq;
  let gapAt: number | undefined;
  const stored: Array<{ seq: number; bytes: number }> = [];
  for (const chunk of [...chunks].sort((a, b) => a.seq - b.seq)) {
    if (chunk.seq <= acked) continue;
    if (chunk.seq !== acked + 1) {
      gapAt = acked + 1;
      break;
    }
    await store.set(keys.logChunk(jobId, chunk.seq), chunk);
    stored.push({ seq: chunk.seq, bytes: Buffer.byteLength(chunk.data) });
    acked = chunk.seq;
  }
  // Another request of the same agent may have stored some of these meanwhile: count only what is new to the record.
  const updated = await store.update<JobRecord>(keys.job(jobId), (current) => {
    const fresh = stored.filter((s) => current && s.seq > current.logsAckedSeq);
    if (!current || fresh.length === 0) return undefined;
    const bytes = fresh.reduce((n, s) => n + s.bytes, 0);
    return { ...current, logsAckedSeq: fresh.at(-1)!.seq, logBytes: (current.logBytes ?? 0) + bytes };
  });
  if ((updated?.logBytes ?? 0) > maxBytes) await dropOldestChunks(store, jobId, maxBytes);
  if (gapAt !== undefined) throw seqGap(jobId, 'log chunk', gapAt);
  return { ackedSeq: Math.max(acked, updated?.logsAckedSeq ?? 0) };
}

/** Deletes the oldest chunks until the job is within `maxBytes` (the newest chunk always stays). */
async function dropOldestChunks(store: Store, jobId: string, maxBytes: number): Promise<void> {
  for (;;) {
    const job = await store.get<JobRecord>(keys.job(jobId));
    const seq = job?.logFirstSeq ?? 1;
    if (!job || (job.logBytes ?? 0) <= maxBytes || seq >= job.logsAckedSeq) return;
    const chunk = await store.get<LogChunk>(keys.logChunk(jobId, seq));
    const bytes = chunk ? Buffer.byteLength(chunk.data) : 0;
    // The record is the gate: of two requests dropping at once, only one accounts for each chunk.
    await store.update<JobRecord>(keys.job(jobId), (current) =>
      current && (current.logFirstSeq ?? 1) === seq
        ? { ...current, logFirstSeq: seq + 1, logBytes: (current.logBytes ?? 0) - bytes, logsDropped: (current.logsDropped ?? 0) + 1 }
        : undefined,
    );
    await store.delete(keys.logChunk(jobId, seq));
  }
}

/**
 * The last `maxLines` lines of a job's log, read backwards chunk by chunk (never the whole log). When the tail
 * reaches back to chunks that were dropped, its first line says so.
 *
 * @example
 * await readLogTail(store, job); // ['Applying migration 42…', 'done']
 */
export async function readLogTail(store: Store, job: JobRecord, maxLines = LOG_TAIL_LINES): Promise<string[]> {
  const parts: string[] = [];
  let newlines = 0;
  const first = job.logFirstSeq ?? 1;
  let seq = job.logsAckedSeq;
  for (; seq >= first && newlines <= maxLines; seq--) {
    const chunk = await store.get<LogChunk>(keys.logChunk(job.spec.id, seq));
    if (!chunk) continue;
    parts.unshift(chunk.data);
    newlines += chunk.data.split('\n').length - 1;
  }
  const lines = parts.join('').replace(/\n$/, '').split('\n');
  if (parts.length === 0) return [];
  if (lines.length < maxLines && seq < first && job.logsDropped) {
    return [`[bitenvoy: ${job.logsDropped} older log chunks were dropped; the hub keeps the newest ${MAX_LOG_BYTES / 1024 / 1024} MiB per job]`, ...lines].slice(-maxLines);
  }
  return lines.slice(-maxLines);
}
