/**
 * Job logs: sequence numbers like events; small chunks joined into entries, empty ones not stored; a bounded size
 * and entry count with the oldest entries dropped and a note saying so; and a tail read from the end that reads a
 * bounded number of entries however long the log.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendLogChunks, JOIN_BYTES, MAX_LOG_ENTRIES, readLogTail, TAIL_MAX_ENTRIES, type LogEntry } from '../../app/jobs/job-logs.js';
import type { Store } from '../../app/store/store.js';
import { keys, type JobRecord } from '../../app/model.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import type { JobSpec, LogChunk } from '../../lib/protocol.js';
import { DEPLOY, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';

let f: EngineFixture;
let engine: RolloutEngine;
let job: JobSpec;
const who = () => ({ agentId: 'ag_a', jobId: job.id, claimId: 'cl_1' });
beforeEach(async () => {
  f = await openEngineFixture();
  await f.addAgent('ag_a', 'web-1');
  engine = f.engine();
  await engine.createDeployment(DEPLOY, 'test');
  job = (await engine.nextJob('ag_a'))!;
  await engine.claimJob('ag_a', job.id, 'cl_1');
});
afterEach(async () => {
  await f.close();
});

const chunk = (seq: number, data: string): LogChunk => ({ seq, at: '2026-11-25T10:00:01.000Z', stream: 'stdout', data });
const stored = async () => (await f.store.get<JobRecord>(keys.job(job.id)))!;

describe('appendLogs', () => {
  it('stores chunks in order, ignores duplicates and answers a gap with the seq to resend from', async () => {
    expect(await engine.appendLogs('ag_a', job.id, 'cl_1', [chunk(1, 'one\n'), chunk(2, 'two\n')])).toEqual({ ackedSeq: 2 });
    expect(await engine.appendLogs('ag_a', job.id, 'cl_1', [chunk(2, 'two\n'), chunk(3, 'three\n')])).toEqual({ ackedSeq: 3 });
    await expect(engine.appendLogs('ag_a', job.id, 'cl_1', [chunk(4, 'four\n'), chunk(6, 'six\n')])).rejects.toMatchObject({
      code: 'BE_SEQ_GAP',
      details: { expectedSeq: 5 },
    });
    expect(await stored()).toMatchObject({ logsAckedSeq: 4, logBytes: 19 });
    expect(await readLogTail(f.store, await stored())).toEqual(['one', 'two', 'three', 'four']);
    await expect(engine.appendLogs('ag_a', job.id, 'cl_9', [chunk(5, 'x')])).rejects.toMatchObject({ code: 'BE_JOB_CLAIMED' });
  });

  it('tails the last lines across chunks, joining a line split between two chunks', async () => {
    const lines = Array.from({ length: 80 }, (_, i) => `line ${i + 1}`);
    await engine.appendLogs('ag_a', job.id, 'cl_1', [chunk(1, lines.slice(0, 40).join('\n') + '\n' + 'half '), chunk(2, 'a line\n' + lines.slice(40).join('\n') + '\n')]);
    const tail = await readLogTail(f.store, await stored());
    expect(tail).toHaveLength(50);
    expect(tail.at(-1)).toBe('line 80');
    expect(tail[9]).toBe('half a line');
  });

  it('keeps the newest bytes within the bound, drops the oldest entries, and says so', async () => {
    for (let seq = 1; seq <= 10; seq++) {
      // A step each: chunks of different steps are never joined, so each is an entry of its own.
      await appendLogChunks(f.store, who(), [{ ...chunk(seq, `${String(seq).padStart(9, '0')}\n`), step: seq }], { maxBytes: 35 });
    }
    const record = await stored();
    expect(record).toMatchObject({ logsAckedSeq: 10, logFirstEntry: 8, logLastEntry: 10, logsDropped: 7, logBytes: 30 });
    expect((await f.store.list(keys.logPrefix(job.id))).map((e) => e.key)).toEqual([8, 9, 10].map((s) => keys.logEntry(job.id, s)));
    expect(await readLogTail(f.store, record)).toEqual([
      '[bitenvoy: 7 older log chunks were dropped; the hub keeps the newest 2 MiB per job]',
      '000000008',
      '000000009',
      '000000010',
    ]);
  });

  it('never double-counts chunks that two requests store at once', async () => {
    const chunks = [chunk(1, 'aaaa\n'), chunk(2, 'bbbb\n'), chunk(3, 'cccc\n')];
    const answers = await Promise.all([appendLogChunks(f.store, who(), chunks), appendLogChunks(f.store, who(), chunks.slice(0, 2))]);
    // Appends to one job run one at a time: the second finds all three stored and says so.
    expect(answers.map((a) => a.ackedSeq)).toEqual([3, 3]);
    expect(await stored()).toMatchObject({ logsAckedSeq: 3, logBytes: 15 });
  });

  it('acknowledges empty chunks without storing them, and joins small chunks of one stream and step', async () => {
    const chunks = [chunk(1, ''), chunk(2, 'a'), chunk(3, ''), chunk(4, 'b\n'), { ...chunk(5, 'err\n'), stream: 'stderr' as const }, chunk(6, 'c'), { ...chunk(7, 'd\n'), step: 1 }, chunk(8, '')];
    expect(await engine.appendLogs('ag_a', job.id, 'cl_1', chunks)).toEqual({ ackedSeq: 8 });
    expect(await engine.appendLogs('ag_a', job.id, 'cl_1', [chunk(9, 'e\n'), chunk(10, '')])).toEqual({ ackedSeq: 10 });
    const entries = (await f.store.list<LogEntry>(keys.logPrefix(job.id))).map((e) => e.value);
    // stdout a+b joined | stderr | stdout c | step 1 d | then, in the next request, stdout e after step 1: a new entry.
    expect(entries.map((e) => [e.seq, e.lastSeq, e.stream, e.step, e.data])).toEqual([
      [2, 4, 'stdout', undefined, 'ab\n'],
      [5, 5, 'stderr', undefined, 'err\n'],
      [6, 6, 'stdout', undefined, 'c'],
      [7, 7, 'stdout', 1, 'd\n'],
      [9, 9, 'stdout', undefined, 'e\n'],
    ]);
    expect(await stored()).toMatchObject({ logsAckedSeq: 10, logFirstEntry: 1, logLastEntry: 5, logBytes: 12 });
    expect(await readLogTail(f.store, await stored())).toEqual(['ab', 'err', 'cd', 'e']);
    // Duplicates of acknowledged chunks (empty or not) change nothing.
    expect(await engine.appendLogs('ag_a', job.id, 'cl_1', [chunk(8, ''), chunk(9, 'e\n')])).toEqual({ ackedSeq: 10 });
    expect(await f.store.list(keys.logPrefix(job.id))).toHaveLength(5);
  });

  it('joins a later request\'s chunks into the newest entry while it is small, then starts the next', async () => {
    const big = 'x'.repeat(JOIN_BYTES - 10);
    await engine.appendLogs('ag_a', job.id, 'cl_1', [chunk(1, 'first ')]);
    await engine.appendLogs('ag_a', job.id, 'cl_1', [chunk(2, 'second\n')]);
    await engine.appendLogs('ag_a', job.id, 'cl_1', [chunk(3, big)]);
    const entries = (await f.store.list<LogEntry>(keys.logPrefix(job.id))).map((e) => e.value);
    expect(entries.map((e) => [e.seq, e.lastSeq, e.data.length])).toEqual([
      [1, 2, 13],
      [3, 3, JOIN_BYTES - 10],
    ]);
    expect(await stored()).toMatchObject({ logsAckedSeq: 3, logLastEntry: 2, logBytes: 13 + JOIN_BYTES - 10 });
  });

  it('bounds a flood of one-byte chunks: few entries, and the tail reads a bounded number of them', async () => {
    for (let base = 0; base < 20_000; base += 500) {
      const batch = Array.from({ length: 500 }, (_, i) => chunk(base + i + 1, i % 7 === 0 ? '' : 'x'));
      await engine.appendLogs('ag_a', job.id, 'cl_1', batch);
    }
    const record = await stored();
    expect(record.logsAckedSeq).toBe(20_000);
    const entries = await f.store.list(keys.logPrefix(job.id));
    expect(entries.length).toBeLessThanOrEqual(Math.ceil(20_000 / JOIN_BYTES) + 1);
    expect(record.logLastEntry! - record.logFirstEntry! + 1).toBe(entries.length);
    const reads = countingReads(f.store);
    const tail = await readLogTail(reads.store, record);
    expect(tail.join('')).toMatch(/^x+$/);
    expect(reads.keys()).toBeLessThanOrEqual(TAIL_MAX_ENTRIES + 16);
  });

  it('bounds the entries kept per job, dropping the oldest', async () => {
    // Alternating streams cannot be joined: every chunk is an entry.
    for (let base = 0; base < MAX_LOG_ENTRIES + 300; base += 100) {
      const batch = Array.from({ length: 100 }, (_, i) => ({ ...chunk(base + i + 1, `line ${base + i + 1}\n`), stream: (i % 2 ? 'stderr' : 'stdout') as LogChunk['stream'] }));
      await engine.appendLogs('ag_a', job.id, 'cl_1', batch);
    }
    const record = await stored();
    expect(await f.store.list(keys.logPrefix(job.id))).toHaveLength(MAX_LOG_ENTRIES);
    expect(record).toMatchObject({ logsDropped: 300, logFirstEntry: 301, logLastEntry: MAX_LOG_ENTRIES + 300 });
    expect((await readLogTail(f.store, record)).at(-1)).toBe(`line ${MAX_LOG_ENTRIES + 300}`);
  });

  it('reads the tail of a log of many entries by reading only the newest few', async () => {
    for (let base = 0; base < 900; base += 300) {
      const batch = Array.from({ length: 300 }, (_, i) => ({ ...chunk(base + i + 1, 'x'), step: (base + i) % 2 }));
      await engine.appendLogs('ag_a', job.id, 'cl_1', batch);
    }
    const reads = countingReads(f.store);
    const tail = await readLogTail(reads.store, await stored());
    expect(tail).toEqual(['x'.repeat(TAIL_MAX_ENTRIES)]);
    expect(reads.keys()).toBeLessThanOrEqual(TAIL_MAX_ENTRIES + 16);
  });

  it('reads and extends the log of a job stored by an older hub (one key per chunk seq)', async () => {
    await f.store.set(keys.logEntry(job.id, 1), chunk(1, 'old one\n'));
    await f.store.set(keys.logEntry(job.id, 2), chunk(2, ''));
    await f.store.set(keys.logEntry(job.id, 3), chunk(3, 'old three\n'));
    await f.store.update<JobRecord>(keys.job(job.id), (j) => j && { ...j, logsAckedSeq: 3, logBytes: 18 });
    expect(await readLogTail(f.store, await stored())).toEqual(['old one', 'old three']);
    expect(await engine.appendLogs('ag_a', job.id, 'cl_1', [chunk(4, ''), chunk(5, 'new\n')])).toEqual({ ackedSeq: 5 });
    expect(await stored()).toMatchObject({ logsAckedSeq: 5, logFirstEntry: 1, logLastEntry: 3, logBytes: 22 });
    expect(await readLogTail(f.store, await stored())).toEqual(['old one', 'old three', 'new']);
  });
});

/** The store, counting the keys read through get and getMany. */
function countingReads(store: Store): { store: Store; keys: () => number } {
  let n = 0;
  const counting: Store = {
    ...store,
    get: (key) => ((n += 1), store.get(key)),
    getMany: (list) => ((n += list.length), store.getMany(list)),
    set: (k, v, t) => store.set(k, v, t),
    delete: (k) => store.delete(k),
    list: (p) => store.list(p),
    update: (k, fn) => store.update(k, fn),
    deleteIf: (k, test) => store.deleteIf(k, test),
    close: () => store.close(),
  };
  return { store: counting, keys: () => n };
}
