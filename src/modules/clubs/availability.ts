import type { Database } from '../../db/client.js';
import type { Booking, Table, TableSession } from '../../db/schema.js';
import { groupBy } from '../../graphql/batch.js';
import type { PubSub, Unsubscribe } from '../../platform/pubsub.js';
import type { VersionedStore } from '../../platform/versioned-store.js';
import { byLabel, selectTableStates, type TableState } from './table-states.js';

/** Which tables of a night are free, held, booked or seated, as of `version`. */
export interface AvailabilitySnapshot {
  nightId: string;
  clubId: string;
  version: number;
  currency: string;
  /**
   * Every table of the plan with what occupies it: its live booking and open session are
   * kept for staff (`Night.tables`); the public types (Availability) show table and state only.
   */
  tables: { table: Table; state: TableState; booking: Booking | null; session: TableSession | null }[];
}

/** The timestamps of a snapshot's rows, turned back into Dates when it is read from the store. */
const TIMESTAMP_KEYS = new Set(['createdAt', 'updatedAt', 'holdExpiresAt', 'retiredAt', 'openedAt', 'closedAt']);
const withDates = (key: string, value: unknown) => (TIMESTAMP_KEYS.has(key) && typeof value === 'string' ? new Date(value) : value);

/**
 * Snapshots expire after a minute and are then computed again from the database: if an
 * instance died between a commit and storing its snapshot, readers catch up within that.
 */
const SNAPSHOT_TTL_SECONDS = 60;
const storeKey = (nightId: string) => `availability:${nightId}`;
/** Parsed snapshots kept per instance, the most recently read nights. */
const PARSED_KEPT = 2_000;
const topic = (nightId: string) => `availability:${nightId}`;

/**
 * Availability as a versioned snapshot shared by every reader and instance: computed
 * once per version (one statement for any number of nights), kept in the shared store,
 * announced on pub/sub after each commit.
 */
export interface Availability {
  /** Current snapshots, in key order; null for a night that does not exist. */
  load(nightIds: readonly string[]): Promise<(AvailabilitySnapshot | null)[]>;
  /**
   * Called after a transaction that changed these nights committed: stores their new
   * snapshots, then announces the versions. Resolves once the store holds them (unless
   * the store failed, which is logged), so the writer's client, reading next, never gets
   * an older version than its own change. Never throws: the change is committed.
   */
  committed(nightIds: readonly string[]): Promise<void>;
  /** The version of the night's snapshot in the shared store; null if none is stored (or the store fails). */
  storedVersion(nightId: string): Promise<number | null>;
  /** Computes the nights' snapshots from the database (and stores them), ignoring the store. */
  recompute(nightIds: readonly string[]): Promise<AvailabilitySnapshot[]>;
  /** Calls `onVersion` for every version of the night announced by any instance. */
  watch(nightId: string, onVersion: (version: number) => void): Promise<Unsubscribe>;
}

export function createAvailability(
  db: Database,
  store: VersionedStore,
  pubsub: PubSub,
  onPublishError: (error: unknown) => void,
): Availability {
  async function computeAndStore(nightIds: readonly string[]): Promise<AvailabilitySnapshot[]> {
    const rows = await selectTableStates(db, nightIds);
    const snapshots = [...groupBy(rows, (row) => row.nightId).values()].map((nightRows): AvailabilitySnapshot => {
      const first = nightRows[0]!;
      return {
        nightId: first.nightId,
        clubId: first.clubId,
        version: first.version,
        currency: first.currency,
        tables: nightRows
          .flatMap((row) => (row.table ? [{ table: row.table, state: row.state, booking: row.booking, session: row.session }] : []))
          .sort((a, b) => byLabel(a.table, b.table)),
      };
    });
    await Promise.all(
      snapshots.map((s) => store.put(storeKey(s.nightId), { version: s.version, value: JSON.stringify(s) }, SNAPSHOT_TTL_SECONDS)),
    );
    return snapshots;
  }

  /**
   * Each night's latest snapshot read from the store, parsed once per version on this
   * instance (readers never change a snapshot): a read of an unchanged night costs a
   * store lookup, not a parse of every table.
   */
  const parsed = new Map<string, AvailabilitySnapshot>();
  function parsedOnce(nightId: string, entry: { version: number; value: string }): AvailabilitySnapshot {
    const known = parsed.get(nightId);
    if (known && known.version === entry.version) return known;
    const snapshot = JSON.parse(entry.value, withDates) as AvailabilitySnapshot;
    parsed.delete(nightId);
    if (parsed.size >= PARSED_KEPT) parsed.delete(parsed.keys().next().value!);
    parsed.set(nightId, snapshot);
    return snapshot;
  }

  return {
    async load(nightIds) {
      const cached = await store.getMany(nightIds.map(storeKey));
      const result = cached.map((entry, i) => (entry ? parsedOnce(nightIds[i]!, entry) : null));
      const missing = nightIds.filter((_, i) => result[i] === null);
      if (missing.length > 0) {
        const computed = new Map((await computeAndStore(missing)).map((s) => [s.nightId, s]));
        nightIds.forEach((id, i) => {
          result[i] ??= computed.get(id) ?? null;
        });
      }
      return result;
    },
    recompute: computeAndStore,
    storedVersion: (nightId) => store.version(storeKey(nightId)),
    async committed(nightIds) {
      if (nightIds.length === 0) return;
      let snapshots: AvailabilitySnapshot[];
      try {
        snapshots = await computeAndStore(nightIds);
      } catch (error) {
        // Readers recompute once the stored snapshot expires; the change stands.
        onPublishError(error);
        return;
      }
      // The change is committed whatever happens here: a lost announcement delays live
      // updates until the next one, it must not turn the mutation into an error.
      await Promise.all(
        snapshots.map((s) => pubsub.publish(topic(s.nightId), String(s.version)).catch(onPublishError)),
      );
    },
    watch(nightId, onVersion) {
      return pubsub.subscribe(topic(nightId), (message) => onVersion(Number(message)));
    },
  };
}

