import type { Unsubscribe } from './pubsub.js';

/** Where a feed's snapshots come from: a shared store, the database behind it, and announcements. */
export interface SnapshotSource<T extends { version: number }> {
  /** Current snapshots from the shared store (computed and stored where missing), in key order. */
  load(ids: readonly string[]): Promise<(T | null)[]>;
  /** Snapshots computed afresh from the database (and stored). */
  recompute(ids: readonly string[]): Promise<T[]>;
  /** Calls `onVersion` for every version announced by any instance. */
  watch(id: string, onVersion: (version: number) => void): Promise<Unsubscribe>;
}

type Listener<T> = (snapshot: T) => void;

interface TopicFeed<T> {
  /** Each listener with the version it saw last. */
  listeners: Map<Listener<T>, number>;
  latest: T | undefined;
  /** The highest version announced so far. */
  announced: number;
  unwatch: Promise<Unsubscribe>;
  fetching: boolean;
  again: boolean;
  /** When listeners were last given a snapshot, and a delivery held back until the interval passes. */
  deliveredAt: number;
  held: ReturnType<typeof setTimeout> | undefined;
}

/**
 * One instance's live view of the topics (nights, vote sessions) its clients watch. Per
 * topic it listens to the announcements of every instance once and fetches each announced
 * snapshot once from the shared store — never once per subscriber — and each listener
 * gets strictly increasing versions. Announcements that arrive during a fetch are folded
 * into one more fetch, so a burst costs at most two fetches and the last version is never
 * skipped. With `minIntervalMs`, listeners get at most one snapshot per interval: the
 * newest, at the end of it.
 */
export class SnapshotFeed<T extends { version: number }> {
  private readonly topics = new Map<string, TopicFeed<T>>();

  constructor(
    private readonly source: SnapshotSource<T>,
    private readonly onError: (error: unknown) => void,
    private readonly minIntervalMs = 0,
  ) {}

  /** Calls `listener` with the current snapshot, then with every newer one it can. */
  async listen(topic: string, listener: Listener<T>): Promise<() => void> {
    let feed = this.topics.get(topic);
    if (!feed) {
      const created: TopicFeed<T> = {
        listeners: new Map(),
        latest: undefined,
        announced: -1,
        unwatch: Promise.resolve(async () => {}),
        fetching: false,
        again: false,
        deliveredAt: 0,
        held: undefined,
      };
      created.unwatch = this.source.watch(topic, (version) => {
        created.announced = Math.max(created.announced, version);
        this.refresh(topic, created);
      });
      this.topics.set(topic, created);
      feed = created;
    }
    feed.listeners.set(listener, -1);
    const joined = feed;
    try {
      await joined.unwatch;
      // Read once the watch is active, so no announcement can fall between the two.
      const [current] = await this.source.load([topic]);
      if (current) this.offer(joined, current);
      // A new listener gets the current snapshot at once, whatever the interval.
      if (joined.latest && joined.listeners.get(listener) === -1) {
        joined.listeners.set(listener, joined.latest.version);
        listener(joined.latest);
      }
    } catch (error) {
      joined.listeners.delete(listener);
      // A watch that failed is dropped whole, so the next listener starts a new one.
      if (this.topics.get(topic) === joined && (joined.listeners.size === 0 || (await settled(joined.unwatch)) === 'rejected')) {
        this.topics.delete(topic);
        clearTimeout(joined.held);
        // A watch that did start must not outlive its feed.
        void joined.unwatch.then((unwatch) => unwatch()).catch(() => {});
      }
      throw error;
    }
    return () => this.leave(topic, joined, listener);
  }

  /**
   * Re-reads the stored snapshot of every watched topic and passes on newer ones. Run
   * periodically and when a subscriber joins: an announcement lost on the way (Redis
   * reconnecting, a failed publish) delays a change, it never hides the latest one.
   */
  reconcile(topic?: string): void {
    for (const [id, feed] of this.topics) {
      if (topic === undefined || id === topic) this.refresh(id, feed);
    }
  }

  private leave(topic: string, feed: TopicFeed<T>, listener: Listener<T>): void {
    feed.listeners.delete(listener);
    if (feed.listeners.size > 0 || this.topics.get(topic) !== feed) return;
    this.topics.delete(topic);
    clearTimeout(feed.held);
    void feed.unwatch.then((unwatch) => unwatch()).catch(this.onError);
  }

  private refresh(topic: string, feed: TopicFeed<T>): void {
    if (feed.fetching) {
      feed.again = true;
      return;
    }
    feed.fetching = true;
    this.fetch(topic, feed.announced)
      .then((snapshot) => snapshot && this.offer(feed, snapshot))
      .catch(this.onError)
      .finally(() => {
        feed.fetching = false;
        if (feed.again) {
          feed.again = false;
          this.refresh(topic, feed);
        }
      });
  }

  /** The shared snapshot, or — if the store lags the announcement — one computed afresh. */
  private async fetch(topic: string, atLeast: number): Promise<T | null> {
    const [stored] = await this.source.load([topic]);
    if (stored && stored.version >= atLeast) return stored;
    const [fresh] = await this.source.recompute([topic]);
    return fresh ?? null;
  }

  private offer(feed: TopicFeed<T>, snapshot: T): void {
    if (!feed.latest || snapshot.version > feed.latest.version) feed.latest = snapshot;
    const wait = feed.deliveredAt + this.minIntervalMs - Date.now();
    if (this.minIntervalMs > 0 && wait > 0) {
      feed.held ??= setTimeout(() => {
        feed.held = undefined;
        this.deliver(feed);
      }, wait);
      return;
    }
    this.deliver(feed);
  }

  private deliver(feed: TopicFeed<T>): void {
    const latest = feed.latest!;
    feed.deliveredAt = Date.now();
    for (const [listener, seen] of feed.listeners) {
      if (latest.version > seen) {
        feed.listeners.set(listener, latest.version);
        listener(latest);
      }
    }
  }
}

function settled(promise: Promise<unknown>): Promise<'fulfilled' | 'rejected'> {
  return promise.then(
    () => 'fulfilled' as const,
    () => 'rejected' as const,
  );
}
