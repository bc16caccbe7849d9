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
 * a burst costs at most two reads and the last version is never skipped.
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
    await feed.unwatch;
    // Read once the watch is active, so no announcement can fall between the two.
    const [current] = await this.availability.load([nightId]);
    if (current) this.offer(feed, current);
    const joined = feed;
    return () => this.leave(nightId, joined, listener);
  }

  /** Nights watched on this instance, and their listeners in all. */
  get size(): { nights: number; listeners: number } {
    let listeners = 0;
    for (const feed of this.nights.values()) listeners += feed.listeners.size;
    return { nights: this.nights.size, listeners };
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
