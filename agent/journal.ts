/**
 * The agent's journal: one small JSON file per job under `<dir>/journal/`, written atomically (temp file, fsync,
 * rename). It is what makes the agent safe across its own crashes: the claimId is written before the claim is sent,
 * the job's phase before each change, and the outbox of events and logs the hub has not acknowledged yet.
 *
 * @example
 * const journal = await Journal.open(dir);
 * await journal.write({ ...record, phase: 'running' });
 */
import { open, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobEvent, JobSpec, LogChunk } from '../lib/protocol.js';

export interface JournalRecord {
  jobId: string;
  claimId: string;
  /** claiming: claim being sent; claimed: held, not started; running: work started; done: final state reported (maybe not yet acknowledged). */
  phase: 'claiming' | 'claimed' | 'running' | 'done';
  spec: JobSpec;
  nextEventSeq: number;
  nextLogSeq: number;
  /** Unacknowledged events and log chunks, in order. */
  events: JobEvent[];
  logs: LogChunk[];
  updatedAt: string;
}

/** Finished records are kept this long so a job offered again is recognised and never run twice. */
const KEEP_DONE_MS = 30 * 86_400_000;

export class Journal {
  #dir: string;
  /** Writes of one record are serialised: the last write always wins, and temp files never collide. */
  #writes = new Map<string, Promise<void>>();
  #counter = 0;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  static async open(agentDir: string): Promise<Journal> {
    const dir = join(agentDir, 'journal');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new Journal(dir);
  }

  #file(jobId: string): string {
    return join(this.#dir, `${jobId.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
  }

  async read(jobId: string): Promise<JournalRecord | undefined> {
    return readFile(this.#file(jobId), 'utf8').then((t) => JSON.parse(t) as JournalRecord, () => undefined);
  }

  write(record: JournalRecord): Promise<void> {
    // Snapshot now: the caller keeps changing the record while the write waits its turn.
    const snapshot = JSON.stringify({ ...record, updatedAt: new Date().toISOString() });
    const previous = this.#writes.get(record.jobId) ?? Promise.resolve();
    const next = previous.then(() => this.#writeFile(record.jobId, snapshot));
    const settled = next.catch(() => undefined);
    this.#writes.set(record.jobId, settled);
    void settled.then(() => {
      if (this.#writes.get(record.jobId) === settled) this.#writes.delete(record.jobId);
    });
    return next;
  }

  async #writeFile(jobId: string, snapshot: string): Promise<void> {
    const file = this.#file(jobId);
    const temp = `${file}.${process.pid}.${++this.#counter}.tmp`;
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(snapshot);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  }

  async all(): Promise<JournalRecord[]> {
    const records: JournalRecord[] = [];
    for (const name of await readdir(this.#dir)) {
      if (!name.endsWith('.json')) {
        if (name.endsWith('.tmp')) await rm(join(this.#dir, name), { force: true });
        continue;
      }
      const record = await readFile(join(this.#dir, name), 'utf8').then((t) => JSON.parse(t) as JournalRecord, () => undefined);
      if (record) records.push(record);
    }
    return records.sort((a, b) => a.updatedAt.localeCompare(b.updatedAt));
  }

  /** Forgets finished, fully acknowledged jobs older than the keep period. */
  async prune(now = Date.now()): Promise<void> {
    for (const r of await this.all()) {
      if (r.phase === 'done' && r.events.length === 0 && r.logs.length === 0 && now - Date.parse(r.updatedAt) > KEEP_DONE_MS) {
        await rm(this.#file(r.jobId), { force: true });
      }
    }
  }
}
