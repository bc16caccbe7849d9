import type { Unsubscribe } from '../../platform/pubsub.js';
import type { Availability, AvailabilitySnapshot } from './availability.js';

type Listener = (snapshot: AvailabilitySnapshot) => void;

interface NightFeed {
  /** Each listener with the version it saw last. */
  listeners: Map<Listener, number>;
  latest: AvailabilitySnapshot | undefined;
  /** The highest version announced so far. */
  announced: number;
  unwatch: Promise<Unsubscribe>;
  fetching: boolean;
  again: boolean;
}

/**
 * One instance's live view of the nights its clients watch. Per night it listens to the
 * announcements of every instance once and fetches each announced snapshot once from the
 * shared store — never once per subscriber — and each listener gets strictly increasing
 * versions. Announcements that arrive during a fetch are folded into one more fetch, so
 * a burst costs at most two fetches and the last version is never skipped.
 */
export class AvailabilityFeed {
  private readonly nights = new Map<string, NightFeed>();

  constructor(
    private readonly availability: Availability,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Calls `listener` with the current snapshot, then with every newer one it can. */
  async listen(nightId: string, listener: Listener): Promise<() => void> {
    let feed = this.nights.get(nightId);
    if (!feed) {
      const created: NightFeed = {
        listeners: new Map(),
        latest: undefined,
        announced: -1,
        unwatch: Promise.resolve(async () => {}),
        fetching: false,
        again: false,
      };
      created.unwatch = this.availability.watch(nightId, (version) => {
        created.announced = Math.max(created.announced, version);
        this.refresh(nightId, created);
      });
      this.nights.set(nightId, created);
      feed = created;
    }
    feed.listeners.set(listener, -1);
    const joined = feed;
    try {
      await joined.unwatch;
      // Read once the watch is active, so no announcement can fall between the two.
      const [current] = await this.availability.load([nightId]);
      if (current) this.offer(joined, current);
    } catch (error) {
      joined.listeners.delete(listener);
      // A watch that failed is dropped whole, so the next listener starts a new one.
      if (this.nights.get(nightId) === joined && (joined.listeners.size === 0 || (await settled(joined.unwatch)) === 'rejected')) {
        this.nights.delete(nightId);
      }
      throw error;
    }
    return () => this.leave(nightId, joined, listener);
  }

  /**
   * Re-reads the stored snapshot of every watched night and passes on newer ones. Run
   * periodically and when a subscriber joins: an announcement lost on the way (Redis
   * reconnecting, a failed publish) delays a change, it never hides the latest one.
   */
  reconcile(nightId?: string): void {
    for (const [id, feed] of this.nights) {
      if (nightId === undefined || id === nightId) this.refresh(id, feed);
    }
  }

  private leave(nightId: string, feed: NightFeed, listener: Listener): void {
    feed.listeners.delete(listener);
    if (feed.listeners.size > 0 || this.nights.get(nightId) !== feed) return;
    this.nights.delete(nightId);
    void feed.unwatch.then((unwatch) => unwatch()).catch(this.onError);
  }

  private refresh(nightId: string, feed: NightFeed): void {
    if (feed.fetching) {
      feed.again = true;
      return;
    }
    feed.fetching = true;
    this.fetch(nightId, feed.announced)
      .then((snapshot) => snapshot && this.offer(feed, snapshot))
      .catch(this.onError)
      .finally(() => {
        feed.fetching = false;
        if (feed.again) {
          feed.again = false;
          this.refresh(nightId, feed);
        }
      });
  }

  /** The shared snapshot, or — if the store lags the announcement — one computed afresh. */
  private async fetch(nightId: string, atLeast: number): Promise<AvailabilitySnapshot | null> {
    const [stored] = await this.availability.load([nightId]);
    if (stored && stored.version >= atLeast) return stored;
    const [fresh] = await this.availability.recompute([nightId]);
    return fresh ?? null;
  }

  private offer(feed: NightFeed, snapshot: AvailabilitySnapshot): void {
    if (!feed.latest || snapshot.version > feed.latest.version) feed.latest = snapshot;
    const latest = feed.latest;
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
