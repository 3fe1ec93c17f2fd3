/**
 * One store reader per deployment view, shared by every open stream of it: a hundred people watching one rollout
 * cost one read per change (and one per {@link FeedTimings.recheckMs} for writes another process made), not a
 * hundred. A feed starts with its first listener and stops with its last; a listener gets the newest snapshot at
 * once and then each one whose `id` differs from the one before.
 *
 * @example
 * const stop = feeds.listen(`${id}|${query}`, id, () => readSnapshot(id), (snap) => stream.send('update', snap.data, snap.id));
 */
import type { DeploymentChanges } from '../rollout/deployment-changes.js';

export interface Snapshot {
  /** Changes when (and only when) what listeners see changed: the SSE event id. */
  id: string;
  data: unknown;
  /** Nothing more will change: listeners end their streams after this one. */
  final: boolean;
}

export interface FeedTimings {
  /** Least time between two reads prompted by the engine's change signal. */
  minGapMs: number;
  /** Reads again this often without a signal (changes made by another hub replica or the CLI). */
  recheckMs: number;
}

export const FEED_DEFAULTS: FeedTimings = { minGapMs: 250, recheckMs: 1000 };

/** What a listener hears: a snapshot, or that the deployment is gone or could not be read (the stream ends). */
export type FeedListener = (snapshot: Snapshot | { gone: true } | { error: unknown }) => void;

interface Feed {
  listeners: Set<FeedListener>;
  last?: Snapshot;
  timer?: NodeJS.Timeout;
  due: number;
  reading: boolean;
  again: boolean;
  lastReadAt: number;
  stopChanges: () => void;
}

export class LiveFeeds {
  #feeds = new Map<string, Feed>();
  #changes: DeploymentChanges;
  #timings: FeedTimings;
  /** Store reads done by all feeds (tests count them). */
  reads = 0;

  constructor(deps: { changes: DeploymentChanges; timings?: Partial<FeedTimings> }) {
    this.#changes = deps.changes;
    this.#timings = { ...FEED_DEFAULTS, ...deps.timings };
  }

  /** Feeds running now (one per deployment view someone watches). */
  get size(): number {
    return this.#feeds.size;
  }

  /** Listens to the feed `key` of `deploymentId` (started with `read` if nobody listens yet); returns the way out. */
  listen(key: string, deploymentId: string, read: () => Promise<Snapshot | undefined>, listener: FeedListener): () => void {
    let feed = this.#feeds.get(key);
    if (!feed) {
      const created: Feed = { listeners: new Set(), due: 0, reading: false, again: false, lastReadAt: 0, stopChanges: () => {} };
      feed = created;
      this.#feeds.set(key, created);
      created.stopChanges = this.#changes.subscribe(deploymentId, () => this.#wakeAt(created, key, read, created.lastReadAt + this.#timings.minGapMs));
      this.#wakeAt(created, key, read, 0);
    } else if (feed.last) {
      const last = feed.last;
      queueMicrotask(() => entry(last));
    }
    const entry: FeedListener = (s) => listener(s);
    feed.listeners.add(entry);
    const mine = feed;
    return () => {
      mine.listeners.delete(entry);
      if (mine.listeners.size || this.#feeds.get(key) !== mine) return;
      this.#feeds.delete(key);
      clearTimeout(mine.timer);
      mine.stopChanges();
    };
  }

  #wakeAt(feed: Feed, key: string, read: () => Promise<Snapshot | undefined>, at: number): void {
    if (this.#feeds.get(key) !== feed || (feed.timer && feed.due <= at)) return;
    clearTimeout(feed.timer);
    feed.due = at;
    feed.timer = setTimeout(() => this.#tick(feed, key, read), Math.max(0, at - Date.now()));
  }

  #tick(feed: Feed, key: string, read: () => Promise<Snapshot | undefined>): void {
    feed.timer = undefined;
    if (this.#feeds.get(key) !== feed) return;
    if (feed.reading) return void (feed.again = true);
    feed.reading = true;
    feed.again = false;
    feed.lastReadAt = Date.now();
    this.reads++;
    const tell = (what: Parameters<FeedListener>[0]) => [...feed.listeners].forEach((l) => l(what));
    read().then(
      (snapshot) => {
        feed.reading = false;
        if (!snapshot) return this.#drop(feed, key, { gone: true });
        if (snapshot.id !== feed.last?.id) {
          feed.last = snapshot;
          tell(snapshot);
        }
        if (snapshot.final) return;
        this.#wakeAt(feed, key, read, feed.again ? feed.lastReadAt + this.#timings.minGapMs : Date.now() + this.#timings.recheckMs);
      },
      (error: unknown) => {
        feed.reading = false;
        this.#drop(feed, key, { error });
      },
    );
  }

  /** Ends a feed that cannot go on: its listeners hear why, and the next listener starts a fresh one. */
  #drop(feed: Feed, key: string, why: { gone: true } | { error: unknown }): void {
    if (this.#feeds.get(key) === feed) this.#feeds.delete(key);
    clearTimeout(feed.timer);
    feed.stopChanges();
    [...feed.listeners].forEach((l) => l(why));
  }
}
