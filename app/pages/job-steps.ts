/**
 * A server's steps as people read them, from the step events its agent sent: when each started, how it ended and how
 * long it took. Events are bounded per job (job-updates.ts), so this is too.
 *
 * @example
 * stepRuns(job.events); // [{ index: 0, name: 'install', status: 'succeeded', startedAt: '…', endedAt: '…', durationMs: 8200 }]
 * formatDuration(8200); // '8.2 s'
 */
import type { JobEvent } from '../../lib/protocol.js';

export interface StepRun {
  /** 0-based index in the instruction file (people see `index + 1`). */
  index: number;
  name: string;
  /** `started` while it runs, else how it ended (`succeeded`, `failed`, `timed_out`). */
  status: string;
  startedAt?: string;
  endedAt?: string;
  /** The agent's own measure when it sent one, else the time between the two events. */
  durationMs?: number;
  exitCode?: number | null;
  message?: string;
}

/** One entry per step index, in the order the steps first appeared. */
export function stepRuns(events: readonly JobEvent[]): StepRun[] {
  const runs = new Map<number, StepRun>();
  for (const ev of events) {
    if (ev.type !== 'step') continue;
    const run = runs.get(ev.step.index) ?? { index: ev.step.index, name: ev.step.name, status: ev.status };
    runs.set(ev.step.index, run);
    run.status = ev.status;
    if (ev.status === 'started') {
      run.startedAt = ev.at;
      continue;
    }
    run.endedAt = ev.at;
    const measured = ev.durationMs ?? (run.startedAt ? Date.parse(ev.at) - Date.parse(run.startedAt) : undefined);
    if (measured !== undefined && Number.isFinite(measured) && measured >= 0) run.durationMs = measured;
    if (ev.exitCode !== undefined) run.exitCode = ev.exitCode;
    if (ev.message !== undefined) run.message = ev.message;
  }
  return [...runs.values()];
}

/** `850 ms`, `8.2 s`, `3 min 05 s`, `1 h 02 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** `2026-11-25T10:00:02.123Z` → `10:00:02 UTC` (the day is on the page already). */
export function clockTime(iso: string): string {
  const m = /T(\d\d:\d\d:\d\d)/.exec(iso);
  return m ? `${m[1]} UTC` : iso;
}
