import { nextChangeVersion } from '../../db/change-version.js';
import type { Database } from '../../db/client.js';
import { groupBy } from '../../graphql/batch.js';
import type { PubSub } from '../../platform/pubsub.js';
import { outsideSqlCounter } from '../../platform/sql-stats.js';
import type { SnapshotSource } from '../../platform/snapshot-feed.js';
import type { VersionedStore } from '../../platform/versioned-store.js';
import { selectVoteCounts } from './vote-counts.js';
import { voteResults, type VoteResultsModel } from './results.js';

/** A session's results as of `version`, which grows with every change of them. */
export type VoteResultsSnapshot = VoteResultsModel & { sessionId: string; version: number };

const TTL_SECONDS = 60;
const COUNTER_TTL_SECONDS = 24 * 3600;
const resultsKey = (id: string) => `vote-results:${id}`;
const counterKey = (id: string) => `vote-results-version:${id}`;
const topic = (id: string) => `vote-results:${id}`;

export interface VoteResultsStore extends SnapshotSource<VoteResultsSnapshot> {
  /**
   * After a transaction that changed the session's votes committed: claims the next
   * version (readers from now on need it), then — without the caller waiting — stores
   * results computed after the commit under it and announces it. Resolves to the version
   * claimed (null if none could be): night reports count the same change under it. Never
   * throws: the vote is committed.
   */
  committed(sessionId: string): Promise<number | null>;
}

/**
 * Vote results cached per session in the shared store and kept fresh without locks on
 * the database: each commit claims a version from a database sequence after it commits,
 * raises the session's counter in the store to it, and stores what it then reads under
 * that version. A reader computing from an older state read an
 * older counter, so it can never overwrite newer results (the store keeps the higher
 * version), and a cached entry is used only while its version is the counter's.
 */
export function createVoteResultsStore(
  db: Database,
  store: VersionedStore,
  pubsub: PubSub,
  onError: (error: unknown) => void,
  cached = true,
): VoteResultsStore {
  async function computeAndStore(sessionIds: readonly string[], versions: readonly number[]): Promise<VoteResultsSnapshot[]> {
    const bySession = groupBy(await selectVoteCounts(db, sessionIds), (row) => row.sessionId);
    const snapshots: VoteResultsSnapshot[] = sessionIds.map((sessionId, i) => ({
      sessionId,
      version: versions[i]!,
      ...voteResults(bySession.get(sessionId) ?? []),
    }));
    if (cached) await Promise.all(snapshots.map((s) => store.put(resultsKey(s.sessionId), { version: s.version, value: JSON.stringify(s) }, TTL_SECONDS)));
    return snapshots;
  }

  async function recompute(sessionIds: readonly string[]): Promise<VoteResultsSnapshot[]> {
    const counters = await store.counters(sessionIds.map(counterKey));
    return computeAndStore(sessionIds, counters.map((c) => c ?? 0));
  }

  /** A running computation of a session's results, and the one queued behind it. */
  interface Flight {
    /** Its results are at least this new. */
    version: number;
    done: Promise<VoteResultsSnapshot | null>;
    /** The computation after it, for callers wanting newer than `version`: at least `wanted`. */
    next?: Promise<VoteResultsSnapshot | null>;
    wanted?: number;
  }
  const running = new Map<string, Flight>();

  /**
   * Each session's results at least as new as `versions[i]`, computed at most once at a
   * time per session. A session whose running computation covers the version shares it;
   * one whose running computation is older waits for one more, shared by every caller
   * wanting newer meanwhile; the sessions with none running are computed together, one
   * GROUP BY for all of them. A burst of votes costs a few GROUP BYs, not one each, and a
   * page of sessions missing from the cache one, not one each.
   *
   * A computation's statements are charged to the request that started it (see SqlStats);
   * callers that share it are charged nothing for it.
   */
  function resultsAtLeast(sessionIds: readonly string[], versions: readonly number[]): Promise<(VoteResultsSnapshot | null)[]> {
    const starting = new Map<string, number>();
    const outcomes = sessionIds.map((sessionId, i): Promise<VoteResultsSnapshot | null> | undefined => {
      const version = versions[i]!;
      const current = running.get(sessionId);
      if (current && current.version >= version) return current.done;
      if (current) {
        current.wanted = Math.max(current.wanted ?? version, version);
        current.next ??= current.done
          .catch(() => null)
          .then(async () => (await resultsAtLeast([sessionId], [current.wanted!]))[0] ?? null);
        return current.next;
      }
      starting.set(sessionId, Math.max(starting.get(sessionId) ?? version, version));
      return undefined;
    });
    if (starting.size > 0) {
      const ids = [...starting.keys()];
      // The versions claimed so far: the results stored are read after every one of them committed.
      const computed = store
        .counters(ids.map(counterKey))
        .then((claimed) => computeAndStore(ids, ids.map((id, k) => Math.max(claimed[k] ?? 0, starting.get(id)!))));
      ids.forEach((sessionId, k) => {
        const flight: Flight = { version: starting.get(sessionId)!, done: computed.then((snapshots) => snapshots[k] ?? null) };
        running.set(sessionId, flight);
        void flight.done
          .finally(() => {
            if (running.get(sessionId) === flight) running.delete(sessionId);
          })
          .catch(() => {});
      });
    }
    return Promise.all(sessionIds.map((sessionId, i) => outcomes[i] ?? running.get(sessionId)!.done));
  }

  return {
    async load(sessionIds) {
      if (!cached) return computeAndStore(sessionIds, sessionIds.map(() => 0));
      const [entries, counters] = await Promise.all([store.getMany(sessionIds.map(resultsKey)), store.counters(sessionIds.map(counterKey))]);
      const result = entries.map((entry, i) =>
        entry && counters[i] !== null && entry.version >= counters[i]! ? (JSON.parse(entry.value) as VoteResultsSnapshot) : null,
      );
      const missing = sessionIds.flatMap((_id, i) => (result[i] === null ? [i] : []));
      if (missing.length > 0) {
        const computed = await resultsAtLeast(
          missing.map((i) => sessionIds[i]!),
          missing.map((i) => counters[i] ?? 0),
        );
        missing.forEach((i, k) => {
          result[i] = computed[k] ?? null;
        });
      }
      return result;
    },
    recompute,
    async committed(sessionId) {
      try {
        // Claimed before the writer answers: from now on every reader needs this version.
        const version = await nextChangeVersion(db);
        await store.raise(counterKey(sessionId), version, COUNTER_TTL_SECONDS);
        // Computing and announcing happen after the answer, shared with concurrent votes,
        // and are charged to no request: the writer does not wait for them.
        void outsideSqlCounter(() =>
          resultsAtLeast([sessionId], [version])
            .then(async ([snapshot]) => {
              if (snapshot) await pubsub.publish(topic(sessionId), String(snapshot.version));
            })
            .catch(onError),
        );
        return version;
      } catch (error) {
        // Readers recompute once the cached results expire; the vote stands.
        onError(error);
        return null;
      }
    },
    watch(sessionId, onVersion) {
      return pubsub.subscribe(topic(sessionId), (message) => onVersion(Number(message)));
    },
  };
}
