/**
 * One reader per watched deployment view, however many streams watch it: listeners share its reads, hear only
 * changes, a late listener gets the newest snapshot at once, and the feed stops with its last listener.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LiveFeeds, type Snapshot } from '../../app/pages/live-feeds.js';
import { DeploymentChanges } from '../../app/rollout/deployment-changes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stops: Array<() => void> = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

describe('LiveFeeds', () => {
  it('reads once per change for every listener of a view, and stops reading when the last one leaves', async () => {
    const changes = new DeploymentChanges();
    const feeds = new LiveFeeds({ changes, timings: { minGapMs: 5, recheckMs: 60_000 } });
    let version = 1;
    let reads = 0;
    const read = async (): Promise<Snapshot> => (reads++, { id: `v${version}`, data: version, final: false });
    const heard: unknown[][] = [[], [], []];
    for (let i = 0; i < 3; i++) stops.push(feeds.listen('dep_1|', 'dep_1', read, (s) => heard[i]!.push('id' in s ? s.id : s)));
    await sleep(30);
    expect(reads).toBe(1);
    expect(heard).toEqual([['v1'], ['v1'], ['v1']]);

    version = 2;
    changes.notify('dep_1');
    await sleep(30);
    expect(reads).toBe(2);
    expect(heard).toEqual([['v1', 'v2'], ['v1', 'v2'], ['v1', 'v2']]);
    // A change that changes nothing anyone sees is not sent.
    changes.notify('dep_1');
    await sleep(30);
    expect(reads).toBe(3);
    expect(heard[0]).toEqual(['v1', 'v2']);

    // Late listeners hear a snapshot read after they joined (never an older one the feed holds), and those joining
    // together share that read; the others hear nothing new.
    version = 3;
    const late: string[] = [];
    const later: string[] = [];
    stops.push(feeds.listen('dep_1|', 'dep_1', read, (s) => late.push('id' in s ? s.id : 'other')));
    stops.push(feeds.listen('dep_1|', 'dep_1', read, (s) => later.push('id' in s ? s.id : 'other')));
    await sleep(30);
    expect(late).toEqual(['v3']);
    expect(later).toEqual(['v3']);
    expect(reads).toBe(4);
    expect(heard[0]).toEqual(['v1', 'v2', 'v3']);
    reads--; // the checks below count from here

    stops.splice(0).forEach((stop) => stop());
    expect(feeds.size).toBe(0);
    expect(changes.listenerCount).toBe(0);
    changes.notify('dep_1');
    await sleep(30);
    expect(reads).toBe(3);
  });

  it('sends a listener who joins while a read runs the answer of a read started after it joined', async () => {
    const changes = new DeploymentChanges();
    const feeds = new LiveFeeds({ changes, timings: { minGapMs: 5, recheckMs: 60_000 } });
    let version = 1;
    let release: (() => void) | undefined;
    const read = async (): Promise<Snapshot> => {
      const v = version;
      await new Promise<void>((r) => (release = r));
      return { id: `v${v}`, data: v, final: false };
    };
    const first: string[] = [];
    const second: string[] = [];
    stops.push(feeds.listen('k', 'dep_1', read, (s) => first.push('id' in s ? s.id : 'other')));
    await sleep(5);
    // A read of v1 runs; the state moves to v2 and someone joins (their page shows v2).
    version = 2;
    stops.push(feeds.listen('k', 'dep_1', read, (s) => second.push('id' in s ? s.id : 'other')));
    release!();
    await sleep(20);
    expect(first).toEqual(['v1']);
    expect(second).toEqual([]);
    release!();
    await sleep(20);
    expect(first).toEqual(['v1', 'v2']);
    expect(second).toEqual(['v2']);
  });

  it('tells its listeners when the deployment is gone or unreadable, and starts afresh for the next', async () => {
    const changes = new DeploymentChanges();
    const feeds = new LiveFeeds({ changes, timings: { minGapMs: 5, recheckMs: 20 } });
    let answer: 'gone' | 'fail' = 'gone';
    const read = async (): Promise<Snapshot | undefined> => {
      if (answer === 'fail') throw new Error('store down');
      return undefined;
    };
    const heard: unknown[] = [];
    stops.push(feeds.listen('k', 'dep_1', read, (s) => heard.push(s)));
    await sleep(30);
    expect(heard).toEqual([{ gone: true }]);
    expect(feeds.size).toBe(0);
    answer = 'fail';
    stops.push(feeds.listen('k', 'dep_1', read, (s) => heard.push(s)));
    await sleep(30);
    expect(heard[1]).toMatchObject({ error: new Error('store down') });
  });
});
