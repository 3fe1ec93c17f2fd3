/**
 * The live-update benchmark (bench/live-updates.ts) at a tiny size, on real processes: a hub, 20 simulated agents,
 * 5 node:http readers of the deployment's live stream in their child process and one Chromium page. The figures have
 * their shape, every reader got every update; and a reader that drops every other update is reported as a failure,
 * not averaged away. Needs `npm run build` (the hub and the readers run from dist/).
 */
import { describe, expect, it } from 'vitest';
import { LIVE_UPDATE_TARGET_MS, measureLiveUpdates } from '../../bench/live-updates.js';
import { ensureCommand } from '../../testbed/ensure-command.js';

const TINY = { agents: 20, readers: 5, rounds: 1, concurrency: 10, log: () => {} };

interface Spread {
  p50: number;
  p95: number;
  max: number;
  samples: number;
}
type ReaderFigures = Spread & { named_rows: Spread; readers: number; events_expected: number; events_received: { min: number; max: number }; readers_failed: number; failures?: string[] };

describe('the live-update benchmark at a tiny size', () => {
  it('measures event to reader in every reader and page, and the hub CPU with and without them', async () => {
    await ensureCommand({ command: 'chromium', paths: ['/usr/bin/chromium'], debianPackage: 'chromium', purpose: "the live-update benchmark's browser pages" });
    const figures = await measureLiveUpdates({ ...TINY, browsers: 1 });
    const live = figures.live_update_ms as ReaderFigures & { browser: ReaderFigures; target_p50: number; pages: number };
    expect(live.target_p50).toBe(LIVE_UPDATE_TARGET_MS);
    expect(live.pages).toBe(6);
    expect(live.failures).toBeUndefined();
    expect(live.readers_failed).toBe(0);
    // Each reader: 20 succeeded counts; every server is on the page's first 50, so each is named once succeeded.
    expect(live.samples).toBe(20 * 5);
    expect(live.named_rows.samples).toBe(20 * 5);
    expect(live.events_expected).toBeGreaterThan(0);
    expect(live.events_received).toEqual({ min: live.events_expected, max: live.events_expected });
    for (const s of [live, live.named_rows, live.browser, live.browser.named_rows]) {
      expect(s.p50).toBeGreaterThan(0);
      expect(s.p50).toBeLessThanOrEqual(s.p95);
      expect(s.p95).toBeLessThanOrEqual(s.max);
      // Loose: a tiny rollout on a busy machine is still seen within seconds, not lost.
      expect(s.max).toBeLessThan(10_000);
    }
    expect(live.browser.readers).toBe(1);
    expect(live.browser.failures).toBeUndefined();
    expect(live.browser.readers_failed).toBe(0);
    expect(live.browser.samples).toBe(20);
    expect(live.browser.events_received.min).toBe(live.browser.events_expected);

    const cpu = figures.live_pages_extra_cpu_s as { value: number; hub_cpu_s: Record<string, number[]>; rollout_s: Record<string, number[]> };
    expect(Object.keys(cpu.hub_cpu_s).sort()).toEqual(['pages_0', 'pages_6', 'warm_up']);
    expect(cpu.hub_cpu_s.pages_6![0]).toBeGreaterThan(0);
    expect(cpu.value).toBe(Math.round((cpu.hub_cpu_s.pages_6![0]! - cpu.hub_cpu_s.pages_0![0]!) * 100) / 100);
    expect(cpu.rollout_s.pages_6![0]).toBeGreaterThan(0);
  }, 180_000);

  it('reports a reader that drops every other update', async () => {
    const figures = await measureLiveUpdates({ ...TINY, browsers: 0, brokenReaders: 1 });
    const live = figures.live_update_ms as ReaderFigures;
    expect(live.readers_failed).toBe(1);
    expect(live.failures).toHaveLength(1);
    expect(live.failures![0]).toMatch(/^rollout 1, reader 1: missed [1-9]\d* of \d+ updates/);
    expect(live.events_received.min).toBeLessThan(live.events_expected);
    expect(live.events_received.max).toBe(live.events_expected);
  }, 180_000);
});
