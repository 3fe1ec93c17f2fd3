/**
 * The live-update benchmark's figures from what its readers heard (bench/live-updates.ts explains the definitions):
 * latencies rank-matched over the page's counts and exact for the servers the page names, and each reader's updates
 * against those expected.
 *
 * @example
 * const figures = readerFigures(runsWithPages, (run) => run.readers); // { p50, p95, max, …, readers_failed }
 */
import type { ReaderResult } from './live-readers.js';
import { round } from './fleet.js';
import { percentile } from './percentile.js';

/** One rollout as the benchmark saw it. */
export interface RolloutRun {
  pages: number;
  cpuSeconds: number;
  rolloutSeconds: number;
  state: string;
  readers: ReaderResult[];
  browsers: ReaderResult[];
  goAt: number;
  /** Epoch ms each `succeeded` report was sent, ascending; and by agent name. */
  sent: number[];
  sentBy: Map<string, number>;
}

/** Rank-matched latencies of one reader (see bench/live-updates.ts), and how many of the sent reports it never showed. */
function countLatencies(reader: ReaderResult, run: RolloutRun): { ms: number[]; unseen: number } {
  const events = reader.events.filter((e) => e.at >= run.goAt);
  const ms: number[] = [];
  let e = 0;
  for (let k = 1; k <= run.sent.length; k++) {
    while (e < events.length && events[e]!.succeeded < k) e++;
    if (e === events.length) return { ms, unseen: run.sent.length - k + 1 };
    ms.push(events[e]!.at - run.sent[k - 1]!);
  }
  return { ms, unseen: 0 };
}

/** Exact latencies of one reader for the servers its page names: that agent's report sent → first shown succeeded. */
function namedLatencies(reader: ReaderResult, run: RolloutRun): number[] {
  return Object.entries(reader.firstSeen).flatMap(([key, at]) => {
    const [name, state] = key.split('|');
    const sent = run.sentBy.get(name!);
    return state === 'succeeded' && sent !== undefined && at >= run.goAt ? [at - sent] : [];
  });
}

// A reduce, not Math.max(...ms): a hundred readers of a thousand servers are more arguments than a call may take.
const spread = (ms: number[]) => ({ p50: percentile(ms, 50), p95: percentile(ms, 95), max: round(ms.reduce((a, b) => Math.max(a, b), -Infinity), 2), samples: ms.length });

/** Latencies and completeness over the readers (or browser pages) of the runs with pages. */
export function readerFigures(runs: RolloutRun[], pick: (run: RolloutRun) => ReaderResult[]) {
  const counted: number[] = [];
  const named: number[] = [];
  const received: number[] = [];
  const failures: string[] = [];
  let expectedTotal = 0;
  runs.forEach((run, r) => {
    // Every distinct update any reader or page got after the agents started: each open stream should get each.
    const expected = new Set([...run.readers, ...run.browsers].flatMap((x) => x.events.filter((e) => e.at >= run.goAt).map((e) => e.id)));
    expectedTotal += expected.size;
    pick(run).forEach((reader, i) => {
      const got = new Set(reader.events.filter((e) => e.at >= run.goAt).map((e) => e.id));
      received.push(got.size);
      const missed = [...expected].filter((id) => !got.has(id)).length;
      const { ms, unseen } = countLatencies(reader, run);
      counted.push(...ms);
      named.push(...namedLatencies(reader, run));
      const wrong = [missed && `missed ${missed} of ${expected.size} updates`, unseen && `never showed ${unseen} of ${run.sent.length} succeeded`, !reader.ended && 'its stream did not end', reader.error].filter(Boolean);
      if (wrong.length) failures.push(`rollout ${r + 1}, reader ${i + 1}: ${wrong.join(', ')}`);
    });
  });
  return {
    ...(counted.length ? spread(counted) : {}),
    named_rows: named.length ? spread(named) : {},
    readers: pick(runs[0]!).length,
    events_expected: expectedTotal / runs.length,
    events_received: { min: received.reduce((a, b) => Math.min(a, b), Infinity), max: received.reduce((a, b) => Math.max(a, b), -Infinity) },
    readers_failed: failures.length,
    ...(failures.length ? { failures: failures.slice(0, 20) } : {}),
  };
}

