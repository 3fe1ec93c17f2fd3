import { describe, expect, it } from 'vitest';
import { JobNotifier } from '../../app/jobs/job-notifier.js';

const race = (p: Promise<void>, ms: number) => Promise.race([p.then(() => 'woken'), new Promise((r) => setTimeout(() => r('still waiting'), ms))]);

describe('JobNotifier', () => {
  it('wakes every wait of that agent, and only of that agent', async () => {
    const n = new JobNotifier();
    const a1 = n.waitForJob('ag_a', 5_000);
    const a2 = n.waitForJob('ag_a', 5_000);
    const b = n.waitForJob('ag_b', 300);
    n.notify('ag_a');
    expect(await race(Promise.all([a1, a2]).then(() => undefined), 200)).toBe('woken');
    expect(await race(b, 50)).toBe('still waiting');
  });

  it('resolves after the wait, or when the signal aborts', async () => {
    const n = new JobNotifier();
    const started = Date.now();
    await n.waitForJob('ag_a', 50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const abort = new AbortController();
    const waiting = n.waitForJob('ag_a', 5_000, abort.signal);
    abort.abort();
    expect(await race(waiting, 200)).toBe('woken');
  });

  it('wakes everyone on shutdown', async () => {
    const n = new JobNotifier();
    const waits = [n.waitForJob('ag_a', 5_000), n.waitForJob('ag_b', 5_000)];
    n.wakeAll();
    expect(await race(Promise.all(waits).then(() => undefined), 200)).toBe('woken');
  });
});
