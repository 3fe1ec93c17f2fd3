import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Journal, type JournalRecord } from '../../agent/journal.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-journal-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

function record(jobId: string, phase: JournalRecord['phase'] = 'running'): JournalRecord {
  const spec = { id: jobId, deploymentId: 'd', repository: 'acme/shop', environment: 'prod', ref: 'main', sha: 'a'.repeat(40), git: { url: 'file:///x' }, instructions: 'bitenvoy.yml', createdAt: '' };
  return { jobId, claimId: `cl_${jobId}`, phase, spec, nextEventSeq: 1, nextLogSeq: 1, events: [], logs: [], updatedAt: '' };
}

it('keeps the last write of a record, atomically, with no temp files left behind', async () => {
  const journal = await Journal.open(dir);
  const r = record('job_1');
  const writes = [];
  for (let i = 1; i <= 20; i++) {
    r.nextEventSeq = i;
    writes.push(journal.write(r));
  }
  await Promise.all(writes);
  expect((await journal.read('job_1'))?.nextEventSeq).toBe(20);
  expect(await readdir(join(dir, 'journal'))).toEqual(['job_1.json']);
});

it('ignores and cleans up temp files a crash left half-written', async () => {
  const journal = await Journal.open(dir);
  await journal.write(record('job_1'));
  await writeFile(join(dir, 'journal', 'job_2.json.123.1.tmp'), '{"jobId":"job_2","pha');
  expect((await journal.all()).map((r) => r.jobId)).toEqual(['job_1']);
  expect(await readdir(join(dir, 'journal'))).toEqual(['job_1.json']);
});

it('remembers finished jobs by id only, forgets refused claims entirely, and survives a reopen', async () => {
  const journal = await Journal.open(dir);
  await journal.write(record('job_done', 'done'));
  await journal.write(record('job_refused', 'claiming'));
  await journal.finish('job_done');
  await journal.forget('job_refused');
  expect(await journal.all()).toEqual([]);

  const reopened = await Journal.open(dir);
  expect(await reopened.hasSeen('job_done')).toBe(true);
  expect(await reopened.hasSeen('job_refused')).toBe(false);
  expect(await reopened.hasSeen('job_new')).toBe(false);
  await reopened.write(record('job_new', 'claiming'));
  expect(await reopened.hasSeen('job_new')).toBe(true);
  expect(JSON.parse(await readFile(join(dir, 'journal', 'finished.index'), 'utf8'))).toEqual(['job_done']);
});
