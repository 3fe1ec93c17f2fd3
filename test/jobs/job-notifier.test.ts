import { describe, expect, it } from 'vitest';
import { HangUp, JobNotifier } from '../../app/jobs/job-notifier.js';

const race = (p: Promise<unknown>, ms: number) => Promise.race([p.then((outcome) => outcome ?? 'woken'), new Promise((r) => setTimeout(() => r('still waiting'), ms))]);

describe('JobNotifier', () => {
  it('wakes every wait of that agent, and only of that agent', async () => {
    const n = new JobNotifier();
    const a1 = n.waitForJob('ag_a', 5_000);
    const a2 = n.waitForJob('ag_a', 5_000);
    const b = n.waitForJob('ag_b', 300);
    n.notify('ag_a');
    expect(await race(Promise.all([a1, a2]), 200)).toEqual(['woken', 'woken']);
    expect(await race(b, 50)).toBe('still waiting');
  });

  it('resolves after the wait, or when the signal aborts, or when the agent hangs up — saying which', async () => {
    const n = new JobNotifier();
    const started = Date.now();
    expect(await n.waitForJob('ag_a', 50)).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const abort = new AbortController();
    const waiting = n.waitForJob('ag_a', 5_000, abort.signal);
    abort.abort();
    expect(await race(waiting, 200)).toBe('stopped');
    const gone = new HangUp();
    const held = n.waitForJob('ag_a', 5_000, gone);
    gone.hangUp();
    expect(await race(held, 200)).toBe('stopped');
    // Gone before the next wait: it ends at once, and a wake-up afterwards finds no listener left.
    expect(await race(n.waitForJob('ag_a', 5_000, gone), 200)).toBe('stopped');
    n.notify('ag_a');
  });

  it('forgets a wait however it ends, also one of two waits of the same agent', async () => {
    const n = new JobNotifier();
    const gone = new HangUp();
    const first = n.waitForJob('ag_a', 5_000, gone);
    const second = n.waitForJob('ag_a', 5_000);
    const timesOut = n.waitForJob('ag_b', 20);
    expect(n.waitingAgents).toBe(2);
    gone.hangUp();
    expect(await first).toBe('stopped');
    expect(await timesOut).toBe('timeout');
    expect(n.waitingAgents).toBe(1);
    // The wait left is still woken, once, and then nothing is left behind.
    n.notify('ag_a');
    expect(await race(second, 200)).toBe('woken');
    expect(n.waitingAgents).toBe(0);
  });

  it('wakes everyone on shutdown', async () => {
    const n = new JobNotifier();
    const waits = [n.waitForJob('ag_a', 5_000), n.waitForJob('ag_b', 5_000)];
    n.wakeAll();
    expect(await race(Promise.all(waits), 200)).toEqual(['woken', 'woken']);
  });

  it('trusts "no job for this agent" until a job is announced for it, and for five minutes at most', () => {
    const n = new JobNotifier();
    expect(n.mayHaveJob('ag_a', 0)).toBe(true);
    n.noneFor('ag_a', n.epoch, 0);
    expect(n.mayHaveJob('ag_a', 1_000)).toBe(false);
    // An answer read before an announcement for its agent is stale once it happened; other agents' jobs change nothing.
    const before = n.epoch;
    void n.announce([{ agentId: 'ag_b', jobId: 'job_b' }, { agentId: 'ag_c', jobId: 'job_c' }]);
    n.noneFor('ag_c', before, 1_000);
    expect(n.mayHaveJob('ag_a', 1_000)).toBe(false);
    expect(n.mayHaveJob('ag_c', 1_000)).toBe(true);
    // Read again after the announcement: none (it was taken meanwhile) holds.
    n.noneFor('ag_c', n.epoch, 1_000);
    expect(n.mayHaveJob('ag_c', 1_000)).toBe(false);
    // Two reads ending out of order: the older answer does not hide the announcement the newer one saw.
    const older = n.epoch;
    void n.announce([{ agentId: 'ag_c', jobId: 'job_c2' }]);
    n.noneFor('ag_c', older, 1_000);
    expect(n.mayHaveJob('ag_c', 1_000)).toBe(true);
    // An announcement that does not say which job (an older replica's) is always news.
    n.noneFor('ag_a', n.epoch, 1_000);
    n.notify('ag_a');
    expect(n.mayHaveJob('ag_a', 1_000)).toBe(true);
    n.noneFor('ag_a', n.epoch, 1_000);
    expect(n.mayHaveJob('ag_a', 1_000 + 5 * 60_000)).toBe(false);
    expect(n.mayHaveJob('ag_a', 1_001 + 5 * 60_000)).toBe(true);
  });

  it("takes an agent's claim of its only pending job as \"none left\", unless another job was announced for it since the read", () => {
    const n = new JobNotifier();
    n.onlyPending('ag_a', 'job_1', n.epoch);
    expect(n.mayHaveJob('ag_a', 0)).toBe(true);
    n.claimed('ag_a', 'job_1', 0);
    expect(n.mayHaveJob('ag_a', 1_000)).toBe(false);
    // Another job claimed than the one read as the only one: nothing is known.
    n.onlyPending('ag_b', 'job_2', n.epoch);
    n.claimed('ag_b', 'job_3', 0);
    expect(n.mayHaveJob('ag_b', 1_000)).toBe(true);
    // Read, then another job announced, then the claim: the new job is the agent's.
    n.onlyPending('ag_c', 'job_4', n.epoch);
    void n.announce([{ agentId: 'ag_c', jobId: 'job_5' }]);
    n.claimed('ag_c', 'job_4', 0);
    expect(n.mayHaveJob('ag_c', 1_000)).toBe(true);
    // Told once: a second claim of the same job (a retry) changes nothing.
    n.claimed('ag_c', 'job_4', 0);
    expect(n.mayHaveJob('ag_c', 1_000)).toBe(true);
  });

  it('counts a job announced again, or one its agent has claimed already, as no news: nobody wakes, nothing is read', async () => {
    const n = new JobNotifier();
    // Another replica's notification, the agent's poll reads the job, then the watcher's re-check announces it again.
    void n.announce([{ agentId: 'ag_a', jobId: 'job_1' }]);
    n.onlyPending('ag_a', 'job_1', n.epoch);
    void n.announce([{ agentId: 'ag_a', jobId: 'job_1' }]);
    n.claimed('ag_a', 'job_1', 0);
    expect(n.mayHaveJob('ag_a', 1_000)).toBe(false);
    // Heard once more after the claim (a late notification): still no news, and the agent's next poll is not woken.
    const waiting = n.waitForJob('ag_a', 5_000);
    await n.announce([{ agentId: 'ag_a', jobId: 'job_1' }]);
    expect(await race(waiting, 50)).toBe('still waiting');
    expect(n.mayHaveJob('ag_a', 1_000)).toBe(false);
    // A new job for it wakes it.
    await n.announce([{ agentId: 'ag_a', jobId: 'job_2' }]);
    expect(await race(waiting, 200)).toBe('woken');
    expect(n.mayHaveJob('ag_a', 1_000)).toBe(true);
    // The same announcement twice before any read: the second wakes nobody.
    const again = n.waitForJob('ag_a', 5_000);
    await n.announce([{ agentId: 'ag_a', jobId: 'job_2' }]);
    expect(await race(again, 50)).toBe('still waiting');
    n.wakeAll();
  });

  it('counts a job read but not claimed as news: another poll of the agent may hold an older answer of none', () => {
    const n = new JobNotifier();
    // Poll 1 starts its read; poll 2 reads the new job before its announcement arrives; then poll 1 answers none.
    const first = n.epoch;
    n.onlyPending('ag_r', 'job_r', n.epoch);
    void n.announce([{ agentId: 'ag_r', jobId: 'job_r' }]);
    n.noneFor('ag_r', first, 1_000);
    // The job is not claimed: whatever poll comes next must read it again.
    expect(n.mayHaveJob('ag_r', 1_000)).toBe(true);
  });
});
