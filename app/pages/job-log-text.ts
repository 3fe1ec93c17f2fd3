/**
 * A job's whole kept log, for the server page's search and download. The hub keeps at most the newest 2 MiB and
 * 1000 entries per job (job-logs.ts), so reading all of it is bounded whatever the job printed; a search returns at
 * most {@link LOG_SEARCH_MAX_MATCHES} lines. URLs' credentials are taken out as everywhere on the pages.
 *
 * @example
 * const found = await searchLog(store, job, 'migration'); // { matches: [{ line: 12, text: 'migration 42 applied' }], more: false }
 * const text = await readKeptLog(store, job); // the download
 */
import { withoutCredentials } from '../../lib/redact-url.js';
import { entryRange, type LogEntry } from '../jobs/job-logs.js';
import { keys, type JobRecord } from '../model.js';
import type { Store } from '../store/store.js';

/** Lines a search shows at most (the count says how many more matched). */
export const LOG_SEARCH_MAX_MATCHES = 200;
/** Longest search text accepted. */
export const LOG_SEARCH_MAX_QUERY = 200;
/** Entries read per round trip. */
const BATCH = 16;

export interface LogSearch {
  /** 1-based line numbers in the kept log (the oldest kept line is 1). */
  matches: Array<{ line: number; text: string }>;
  /** Matching lines in all, shown or not. */
  total: number;
}

/** Every kept entry's text in order, a batch of entries at a time. */
async function* keptEntries(store: Store, job: JobRecord): AsyncGenerator<string> {
  const { first, last } = entryRange(job);
  for (let entry = first; entry <= last; entry += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, last - entry + 1) }, (_, i) => entry + i);
    const values = await store.getMany<LogEntry>(batch.map((n) => keys.logEntry(job.spec.id, n)));
    for (const value of values) if (value) yield withoutCredentials(value.data);
  }
}

/** The kept log as one text, with a first line saying when older output was dropped. */
export async function readKeptLog(store: Store, job: JobRecord): Promise<string> {
  const parts: string[] = [];
  if (job.logsDropped) parts.push(`[bitenvoy: ${job.logsDropped} older log chunks were dropped; the hub keeps the newest 2 MiB per job]\n`);
  for await (const text of keptEntries(store, job)) parts.push(text);
  return parts.join('');
}

/** Lines of the kept log containing `query`, ignoring case. */
export async function searchLog(store: Store, job: JobRecord, query: string, max = LOG_SEARCH_MAX_MATCHES): Promise<LogSearch> {
  const needle = query.toLowerCase();
  const matches: LogSearch['matches'] = [];
  let total = 0;
  let line = 0;
  let partial = '';
  const check = (text: string) => {
    line++;
    if (!text.toLowerCase().includes(needle)) return;
    total++;
    if (matches.length < max) matches.push({ line, text });
  };
  for await (const text of keptEntries(store, job)) {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    lines.forEach(check);
  }
  if (partial) check(partial);
  return { matches, total };
}

/**
 * Where the log ends now, as a cursor of read-log-after.ts (a live follower reads from there), and whether it ends
 * with a newline. One read (the newest entry), whatever the log's length.
 */
export async function logEndCursor(store: Store, job: JobRecord): Promise<{ cursor: string; endsLine: boolean }> {
  const { first, last } = entryRange(job);
  if (last < first) return { cursor: `${first}.0`, endsLine: true };
  const entry = await store.get<LogEntry>(keys.logEntry(job.spec.id, last));
  // Whether what follows starts a new line (the page shows the tail without its last newline).
  return { cursor: `${last}.${entry?.data.length ?? 0}`, endsLine: !entry || entry.data.endsWith('\n') };
}
