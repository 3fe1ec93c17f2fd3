/**
 * Long polls held by one hub replica wake for jobs another replica created: two stores on one database (PostgreSQL,
 * and two connections to one SQLite file) stand for two replicas.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobNotifier } from '../../app/jobs/job-notifier.js';
import { JobWatcher } from '../../app/jobs/job-watcher.js';
import { keys, type JobRecord } from '../../app/model.js';
import { jobIdFor } from '../../app/rollout/engine-context.js';
import type { Store } from '../../app/store/store.js';
import { silentLogger } from '../../lib/logger.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  let here: Store;
  let there: Store;
  beforeEach(async () => {
    here = stores.store;
    there = await stores.open();
  });
  afterEach(async () => {
    await there.close();
  });

  function job(id: string, agentId: string, createdAt: string): JobRecord {
    return { agentId, state: 'pending', batch: 0, spec: { id, deploymentId: 'dep_1', createdAt } } as unknown as JobRecord;
  }

  it('wakes the polls of agents whose jobs another replica created, once per job, and none for old or taken jobs', async () => {
    const notifier = new JobNotifier();
    const watcher = new JobWatcher({ store: here, notifier, log: silentLogger() });
    const woken: string[] = [];
    const wait = (agentId: string) => void notifier.waitForJob(agentId, 5_000).then((outcome) => outcome === 'woken' && woken.push(agentId));
    ['ag_a', 'ag_b', 'ag_c', 'ag_old'].forEach(wait);

    // Written by the other replica: a job now, one with a clock two seconds behind, one from long ago.
    const now = Date.now();
    await there.set(keys.job('job_a'), job('job_a', 'ag_a', new Date(now).toISOString()));
    await there.set(keys.job('job_b'), job('job_b', 'ag_b', new Date(now - 2_000).toISOString()));
    await there.set(keys.job('job_old'), job('job_old', 'ag_old', new Date(now - 600_000).toISOString()));
    await watcher.check();
    await new Promise((r) => setTimeout(r, 20));
    expect(woken.sort()).toEqual(['ag_a', 'ag_b']);

    // Checked again: nothing new, nobody woken twice.
    ['ag_a', 'ag_b'].forEach(wait);
    await watcher.check();
    await new Promise((r) => setTimeout(r, 20));
    expect(woken.sort()).toEqual(['ag_a', 'ag_b']);

    // A job already taken (claimed) by the time of the check is no reason to wake anyone.
    await there.set(keys.job('job_c'), { ...job('job_c', 'ag_c', new Date().toISOString()), state: 'claimed' });
    await watcher.check();
    await new Promise((r) => setTimeout(r, 20));
    expect(woken).not.toContain('ag_c');
    notifier.wakeAll();
  });

  it('reads a batch that shares one creation time a page at a time: every agent is woken once, no page is read twice', async () => {
    const notifier = new JobNotifier();
    const announced: string[] = [];
    const announce = notifier.announce.bind(notifier);
    notifier.announce = (jobs) => (announced.push(...jobs.map((j) => j.jobId!)), announce(jobs));
    const watcher = new JobWatcher({ store: here, notifier, log: silentLogger(), pageSize: 3 });
    const at = new Date().toISOString();
    const ids = Array.from({ length: 7 }, (_, i) => `job_p${i}`);
    for (const [i, id] of ids.entries()) await there.set(keys.job(id), job(id, `ag_p${i}`, at));
    await watcher.check();
    expect(announced).toEqual(ids.slice(0, 3));
    // A job of the same batch committed after that page, with a key before where it ended (batches are written in
    // several transactions): found once the re-checks start again from the batch's creation time.
    await there.set(keys.job('job_p1a'), job('job_p1a', 'ag_p1a', at));
    await watcher.check();
    expect(announced).toEqual(ids.slice(0, 6));
    for (let i = 0; i < 4; i++) await watcher.check();
    expect(announced.slice(0, 7)).toEqual(ids);
    expect([...announced].sort()).toEqual([...ids, 'job_p1a'].sort());
  });

  it.runIf(backend.name === 'postgres')('names the jobs it announces: a job heard of from another replica is not announced again by the re-check', async () => {
    const thereNotifier = new JobNotifier();
    const sender = new JobWatcher({ store: here, notifier: new JobNotifier(), log: silentLogger(), intervalMs: 60_000 });
    const receiver = new JobWatcher({ store: there, notifier: thereNotifier, log: silentLogger(), intervalMs: 60_000 });
    await sender.start();
    await receiver.start();
    try {
      const jobId = jobIdFor('dep_named', 2, 'ag_named');
      await here.set(keys.job(jobId), job(jobId, 'ag_named', new Date().toISOString()));
      const first = thereNotifier.waitForJob('ag_named', 3_000);
      sender.publish('dep_named', 2, ['ag_named']);
      expect(await first).toBe('woken');
      // The agent's next poll waits; the re-check finds the same job and knows it was announced already.
      const second = thereNotifier.waitForJob('ag_named', 300);
      await receiver.check();
      expect(await second).toBe('timeout');
    } finally {
      await sender.stop();
      await receiver.stop();
    }
  });

  it('re-checks by itself every interval, so a lost notification delays a job by that much at most', async () => {
    const notifier = new JobNotifier();
    const watcher = new JobWatcher({ store: here, notifier, log: silentLogger(), intervalMs: 100 });
    watcher.start();
    try {
      const waiting = notifier.waitForJob('ag_late', 3_000);
      await there.set(keys.job('job_late'), job('job_late', 'ag_late', new Date().toISOString()));
      const started = Date.now();
      expect(await waiting).toBe('woken');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await watcher.stop();
    }
  });

  it.runIf(backend.name === 'postgres')('wakes another replica\'s polls at once through LISTEN/NOTIFY, and not its own', async () => {
    const hereNotifier = new JobNotifier();
    const thereNotifier = new JobNotifier();
    // Re-checks far apart: only the notification can wake them in time.
    const sender = new JobWatcher({ store: here, notifier: hereNotifier, log: silentLogger(), intervalMs: 60_000 });
    const receiver = new JobWatcher({ store: there, notifier: thereNotifier, log: silentLogger(), intervalMs: 60_000 });
    await sender.start();
    await receiver.start();
    try {
      const theirs = thereNotifier.waitForJob('ag_far', 3_000);
      const ours = hereNotifier.waitForJob('ag_far', 500);
      const started = Date.now();
      // Many agents: several notifications, each under PostgreSQL's 8,000 bytes.
      sender.publish('dep_1', 0, [...Array.from({ length: 1_500 }, (_, i) => `ag_${String(i).padStart(16, '0')}`), 'ag_far']);
      expect(await theirs).toBe('woken');
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(await ours).toBe('timeout');
    } finally {
      await sender.stop();
      await receiver.stop();
    }
  });
});
