/**
 * A job's log read forward from a cursor: what `bitenvoy logs` prints, and what `--follow` asks for again each tick
 * — only what was added since, never the whole log again. The cursor is `<entry>.<offset>`: the entries before
 * `entry` were read, and the first `offset` characters of `entry` (the newest entry grows while chunks are joined to
 * it, see job-logs.ts). `0.0` reads from the oldest entry kept. A cursor older than the oldest entry kept (the log
 * went past its bounds meanwhile) goes on from there, saying that some of the log was dropped.
 *
 * @example
 * let page = await readLogAfter(store, job, parseLogCursor('0.0'));
 * process.stdout.write(page.data);
 * page = await readLogAfter(store, job, parseLogCursor(page.next)); // only what came since
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { keys, type JobRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { entryRange, type LogEntry } from './job-logs.js';

/** Most characters one read returns (`more` says when there is more to read now). */
export const LOG_READ_MAX_CHARS = 64 * 1024;
/** Entries read per round trip. */
const BATCH = 16;

export interface LogCursor {
  entry: number;
  offset: number;
}

export interface LogRead {
  /** The log text after the cursor, as the agent sent it (control characters included: the reader strips them). */
  data: string;
  /** The cursor to pass next time. */
  next: string;
  /** More than {@link LOG_READ_MAX_CHARS} were there: read again at once. */
  more: boolean;
  /** Part of the log after the cursor was dropped (the job's log went past its bounds) before it was read. */
  dropped?: true;
}

/** `12.340` → `{ entry: 12, offset: 340 }`; anything else is a 400 saying what to pass. */
export function parseLogCursor(raw: unknown): LogCursor {
  const m = typeof raw === 'string' ? /^(\d{1,12})\.(\d{1,9})$/.exec(raw) : null;
  if (!m) throw new BitEnvoyError('BE_BAD_REQUEST', `after: expected a log cursor like \`0.0\` (from the start) or the \`next\` of the previous read, got ${JSON.stringify(raw)}`);
  return { entry: Number(m[1]), offset: Number(m[2]) };
}

export async function readLogAfter(store: Store, job: JobRecord, cursor: LogCursor, maxChars = LOG_READ_MAX_CHARS): Promise<LogRead> {
  const { first, last } = entryRange(job);
  let { entry, offset } = cursor;
  const dropped = entry > 0 && entry < first;
  if (entry < first) {
    entry = first;
    offset = 0;
  }
  let data = '';
  let more = false;
  reading: while (entry <= last) {
    const batch = Array.from({ length: Math.min(BATCH, last - entry + 1) }, (_, i) => entry + i);
    const values = await store.getMany<LogEntry>(batch.map((n) => keys.logEntry(job.spec.id, n)));
    for (const value of values) {
      const text = value?.data ?? '';
      const part = text.slice(offset, offset + maxChars - data.length);
      data += part;
      offset += part.length;
      if (offset < text.length) {
        more = true;
        break reading;
      }
      // The newest entry may still grow: the cursor stays at its end.
      if (entry === last) break reading;
      entry++;
      offset = 0;
    }
  }
  return { data, next: `${entry}.${offset}`, more, ...(dropped ? { dropped: true as const } : {}) };
}
