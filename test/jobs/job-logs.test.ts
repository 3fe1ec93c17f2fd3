/**
 * Job logs: one key per chunk, sequence numbers like events, a bounded size with the oldest chunks dropped and a
 * note saying so, and a tail read from the end.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendLogChunks, readLogTail } from '../../app/jobs/job-logs.js';
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

  it('keeps the newest bytes within the bound, drops the oldest chunks, and says so', async () => {
    for (let seq = 1; seq <= 10; seq++) {
      await appendLogChunks(f.store, who(), [chunk(seq, `${String(seq).padStart(9, '0')}\n`)], 35);
    }
    const record = await stored();
    expect(record).toMatchObject({ logsAckedSeq: 10, logFirstSeq: 8, logsDropped: 7, logBytes: 30 });
    expect((await f.store.list(keys.logPrefix(job.id))).map((e) => e.key)).toEqual([8, 9, 10].map((s) => keys.logChunk(job.id, s)));
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
    expect(answers.map((a) => a.ackedSeq).sort()).toEqual([2, 3]);
    expect(await stored()).toMatchObject({ logsAckedSeq: 3, logBytes: 15 });
  });
});
