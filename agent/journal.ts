/**
 * The agent's journal: one small JSON file per job under `<dir>/journal/`, written atomically (temp file, fsync,
 * rename). It is what makes the agent safe across its own crashes: the claimId is written before the claim is sent,
 * the job's phase before each change, and the outbox of events and logs the hub has not acknowledged yet.
 *
 * Once a finished job's reports are all acknowledged its record is dropped and only its id stays, in a small index
 * of finished jobs (`finished.index`), so a job the hub offers again is recognised and never run twice.
 *
 * @example
 * const journal = await Journal.open(dir);
 * await journal.write({ ...record, phase: 'running' });
 * await journal.finish(record.jobId); // after the hub acknowledged everything
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
  /** The process group of the step running now: after a crash the restarted agent stops what it left running. */
  stepProcessGroup?: number;
}

/** How many finished job ids the index remembers (oldest forgotten first); a job is offered again within minutes. */
const KEEP_FINISHED_IDS = 2000;
/** Not `.json`: no job's record file can ever have this name. */
const FINISHED_INDEX = 'finished.index';

export class Journal {
  #dir: string;
  /** Writes of one record are serialised: the last write always wins, and temp files never collide. */
  #writes = new Map<string, Promise<void>>();
  #counter = 0;
  #finished: string[] | undefined;

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
    await writeAtomically(this.#file(jobId), snapshot, ++this.#counter);
  }

  /** True when this agent claimed the job before: its record exists, or it is in the index of finished jobs. */
  async hasSeen(jobId: string): Promise<boolean> {
    return (await this.#finishedIds()).includes(jobId) || (await this.read(jobId)) !== undefined;
  }

  /** A job whose final state the hub acknowledged: remember only its id, drop its record. */
  async finish(jobId: string): Promise<void> {
    await this.#writes.get(jobId);
    const ids = (await this.#finishedIds()).filter((id) => id !== jobId);
    ids.push(jobId);
    this.#finished = ids.slice(-KEEP_FINISHED_IDS);
    await writeAtomically(join(this.#dir, FINISHED_INDEX), JSON.stringify(this.#finished), ++this.#counter);
    await rm(this.#file(jobId), { force: true });
  }

  /** A job this agent never held (the claim was refused): drop its record without remembering it. */
  async forget(jobId: string): Promise<void> {
    await this.#writes.get(jobId);
    await rm(this.#file(jobId), { force: true });
  }

  async #finishedIds(): Promise<string[]> {
    this.#finished ??= await readFile(join(this.#dir, FINISHED_INDEX), 'utf8').then(
      (t) => JSON.parse(t) as string[],
      () => [],
    );
    return this.#finished;
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
}

/** Temp file, fsync, rename: a reader (or the agent after a crash) sees the old text or the new, never half. */
async function writeAtomically(file: string, text: string, counter: number): Promise<void> {
  const temp = `${file}.${process.pid}.${counter}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
}
