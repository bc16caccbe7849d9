import { eq } from 'drizzle-orm';
import { nextChangeVersion } from '../../db/change-version.js';
import type { Database } from '../../db/client.js';
import { nightReports, type Club, type Night } from '../../db/schema.js';
import type { Cache } from '../../platform/cache.js';
import type { VersionedStore } from '../../platform/versioned-store.js';
import type { Availability } from '../clubs/availability.js';
import { computeNightFigures, type NightFigures, type VoteResultsOf } from './figures.js';

const CACHE_TTL_SECONDS = 300;
const COUNTER_TTL_SECONDS = 24 * 3600;
const entryKey = (nightId: string) => `night-report:${nightId}`;
const counterKey = (clubId: string) => `night-reports-version:${clubId}`;
/** The key of an ended night's final report: its figures never change. */
export const FINAL_REPORT_KEY = 'final';
const FINAL = FINAL_REPORT_KEY;

interface Entry {
  /** What the figures were computed from (see `NightReports.keyOf`), or FINAL. */
  key: string;
  figures: NightFigures;
}

/** A night's figures and the key they are valid under (see `NightReports.keyOf`); null: not to be reused. */
export interface ServedReport {
  figures: NightFigures;
  key: string | null;
}

export interface NightReports {
  /**
   * The night's report: its final one once written, else live figures cached in the
   * shared cache under what they were computed from (`keyOf`), so a reader never gets
   * figures older than a change it saw committed.
   */
  load(night: Night, club: () => Promise<Pick<Club, 'currency'>>): Promise<ServedReport>;
  /**
   * What a night's live figures depend on, read in O(1) from the shared store without
   * touching PostgreSQL (unless the availability snapshot expired): the night's
   * availability version (bookings, sessions, tables, the floor plan and the night's own
   * times — every writer of those bumps it and stores the snapshot before answering) and
   * the club's report counter (check-ins, deposits, votes, vote sessions, campaigns and
   * their deliveries, final reports: see `changed`). Null when the store cannot say
   * (Redis down and nothing raised here): then nothing is cached. (A final report is
   * served under FINAL_REPORT_KEY, valid forever.)
   */
  keyOf(night: Pick<Night, 'id' | 'clubId'>): Promise<string | null>;
  /**
   * After a transaction that changed figures of the clubs' nights committed, before the
   * writer answers: raises each club's report counter to a version from the database's
   * sequence (`version` when the caller already drew one from it, as vote commits do).
   * Never throws: the change is committed; cached reports then expire within minutes.
   */
  changed(clubIds: readonly string[], version?: number | null): Promise<void>;
}

export function createNightReports(
  db: Database,
  cache: Cache,
  store: VersionedStore,
  availability: Pick<Availability, 'storedVersion' | 'load'>,
  votes: VoteResultsOf,
  onError: (error: unknown) => void,
  cached = true,
): NightReports {
  async function keyOf(night: Pick<Night, 'id' | 'clubId'>): Promise<string | null> {
    const [stored, [counter]] = await Promise.all([availability.storedVersion(night.id), store.counters([counterKey(night.clubId)])]);
    // An expired snapshot is computed again (one statement) and stored, so its version is known.
    const version = stored ?? (await availability.load([night.id]))[0]?.version;
    if (version === undefined || counter === null || counter === undefined) return null;
    return `${version}:${counter}`;
  }

  /**
   * Reads the final report, or computes the live figures and caches them under the key
   * read before they were computed: every change that key covers committed before.
   */
  async function compute(night: Night, club: () => Promise<Pick<Club, 'currency'>>): Promise<ServedReport> {
    const key = cached ? await keyOf(night) : null;
    const final = await finalReportOf(db, night.id);
    if (final) {
      if (cached) await cache.set(entryKey(night.id), JSON.stringify({ key: FINAL, figures: final } satisfies Entry), CACHE_TTL_SECONDS);
      return { figures: final, key: cached ? FINAL : null };
    }
    const figures = await computeNightFigures(db, night, await club(), false, votes);
    if (key !== null) await cache.set(entryKey(night.id), JSON.stringify({ key, figures } satisfies Entry), CACHE_TTL_SECONDS);
    return { figures, key };
  }

  /** The computation of a night's report running now, and the one queued behind it. */
  interface Flight {
    done: Promise<ServedReport>;
    next?: Promise<ServedReport>;
  }
  const flights = new Map<string, Flight>();

  function start(night: Night, club: () => Promise<Pick<Club, 'currency'>>): Promise<ServedReport> {
    const flight: Flight = { done: compute(night, club) };
    flights.set(night.id, flight);
    void flight.done
      .finally(() => {
        if (flights.get(night.id) === flight) flights.delete(night.id);
      })
      .catch(() => {});
    return flight.done;
  }

  /**
   * Figures computed after this call: a computation already running started before it, so
   * the caller waits for the next one, which every caller arriving meanwhile shares. However
   * many managers ask at once while the cache cannot answer, a night's figures are computed
   * at most twice at a time, never once per request — and never from before the request.
   */
  function computedAfterNow(night: Night, club: () => Promise<Pick<Club, 'currency'>>): Promise<ServedReport> {
    const running = flights.get(night.id);
    if (!running) return start(night, club);
    running.next ??= running.done.catch(() => undefined).then(() => start(night, club));
    return running.next;
  }

  return {
    keyOf,
    async load(night, club) {
      if (cached) {
        const [text, key] = await Promise.all([cache.get(entryKey(night.id)), keyOf(night)]);
        if (text) {
          const entry = JSON.parse(text) as Entry;
          if (entry.key === FINAL || entry.key === key) return { figures: entry.figures, key: entry.key };
        }
      }
      return computedAfterNow(night, club);
    },
    async changed(clubIds, version) {
      if (clubIds.length === 0) return;
      try {
        const next = version ?? (await nextChangeVersion(db));
        await Promise.all([...new Set(clubIds)].map((id) => store.raise(counterKey(id), next, COUNTER_TTL_SECONDS)));
      } catch (error) {
        onError(error);
      }
    },
  };
}

/** The stored final report of a night, if written. */
export async function finalReportOf(db: Database, nightId: string): Promise<NightFigures | null> {
  const [row] = await db.select({ figures: nightReports.figures }).from(nightReports).where(eq(nightReports.nightId, nightId));
  return (row?.figures as NightFigures | undefined) ?? null;
}
