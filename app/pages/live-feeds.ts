/**
 * One store reader per deployment view, shared by every open stream of it: a hundred people watching one rollout
 * cost one read per change (and one per {@link FeedTimings.recheckMs} for writes another process made), not a
 * hundred. A feed starts with its first listener and stops with its last. A listener hears only snapshots read after
 * it joined (never an older one the feed still holds, which could undo what its page already shows) and then each one
 * whose `id` differs from the last it heard; people joining together share the read their joining asks for.
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
  /** Least time between two reads prompted by the engine's change signal or by people joining. */
  minGapMs: number;
  /** Reads again this often without a signal (changes made by another hub replica or the CLI). */
  recheckMs: number;
}

export const FEED_DEFAULTS: FeedTimings = { minGapMs: 250, recheckMs: 1000 };

/** What a listener hears: a snapshot, or that the deployment is gone or could not be read (the stream ends). */
export type FeedListener = (snapshot: Snapshot | { gone: true } | { error: unknown }) => void;

interface Listener {
  tell: FeedListener;
  /** The first read whose answer this listener may hear (reads are numbered as they start). */
  from: number;
  lastId?: string;
}

interface Feed {
  listeners: Set<Listener>;
  /** Reads started so far. */
  started: number;
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

  constructor(deps: { changes: DeploymentChanges; timings?: Partial<FeedTimings> }) {
    this.#changes = deps.changes;
    this.#timings = { ...FEED_DEFAULTS, ...deps.timings };
  }

  /** Feeds running now (one per deployment view someone watches). */
  get size(): number {
    return this.#feeds.size;
  }

  /** Listens to the feed `key` of `deploymentId` (started with `read` if nobody listens yet); returns the way out. */
  listen(key: string, deploymentId: string, read: () => Promise<Snapshot | undefined>, tell: FeedListener): () => void {
    let feed = this.#feeds.get(key);
    if (!feed) {
      const created: Feed = { listeners: new Set(), started: 0, due: 0, reading: false, again: false, lastReadAt: 0, stopChanges: () => {} };
      feed = created;
      this.#feeds.set(key, created);
      created.stopChanges = this.#changes.subscribe(deploymentId, () => this.#wakeAt(created, key, read, created.lastReadAt + this.#timings.minGapMs));
    }
    // The next read to start is one this listener hears; a read running now may have begun before its page was read.
    const listener: Listener = { tell, from: feed.started + 1 };
    feed.listeners.add(listener);
    if (feed.reading) feed.again = true;
    this.#wakeAt(feed, key, read, feed.started ? feed.lastReadAt + this.#timings.minGapMs : 0);
    const mine = feed;
    return () => {
      mine.listeners.delete(listener);
      if (mine.listeners.size || this.#feeds.get(key) !== mine) return;
      this.#feeds.delete(key);
      clearTimeout(mine.timer);
      mine.stopChanges();
    };
  }

  #wakeAt(feed: Feed, key: string, read: () => Promise<Snapshot | undefined>, at: number): void {
    if (this.#feeds.get(key) !== feed || feed.reading || (feed.timer && feed.due <= at)) {
      if (feed.reading) feed.again = true;
      return;
    }
    clearTimeout(feed.timer);
    feed.due = at;
    feed.timer = setTimeout(() => this.#tick(feed, key, read), Math.max(0, at - Date.now()));
  }

  #tick(feed: Feed, key: string, read: () => Promise<Snapshot | undefined>): void {
    feed.timer = undefined;
    if (this.#feeds.get(key) !== feed) return;
    feed.reading = true;
    feed.again = false;
    feed.lastReadAt = Date.now();
    const seq = ++feed.started;
    read().then(
      (snapshot) => {
        feed.reading = false;
        if (!snapshot) return this.#drop(feed, key, { gone: true });
        for (const l of [...feed.listeners]) {
          if (l.from > seq || l.lastId === snapshot.id) continue;
          l.lastId = snapshot.id;
          l.tell(snapshot);
        }
        // A final deployment changes no more; a listener joining later still gets its one read.
        const waiting = [...feed.listeners].some((l) => l.from > seq);
        if (snapshot.final && !waiting) return;
        this.#wakeAt(feed, key, read, feed.again || waiting ? feed.lastReadAt + this.#timings.minGapMs : Date.now() + this.#timings.recheckMs);
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
    [...feed.listeners].forEach((l) => l.tell(why));
  }
}
