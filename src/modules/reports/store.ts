import { eq } from 'drizzle-orm';
import { nextChangeVersion } from '../../db/change-version.js';
import type { Database } from '../../db/client.js';
import { nightReports, type Club, type Night } from '../../db/schema.js';
import type { Cache } from '../../platform/cache.js';
import type { VersionedStore } from '../../platform/versioned-store.js';
import type { Availability } from '../clubs/availability.js';
import { computeNightFigures, type NightFigures } from './figures.js';

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

  return {
    keyOf,
    async load(night, club) {
      if (!cached) {
        const final = await finalReportOf(db, night.id);
        return { figures: final ?? (await computeNightFigures(db, night, await club(), false)), key: null };
      }
      const [text, key] = await Promise.all([cache.get(entryKey(night.id)), keyOf(night)]);
      if (text) {
        const entry = JSON.parse(text) as Entry;
        if (entry.key === FINAL || entry.key === key) return { figures: entry.figures, key: entry.key };
      }
      const final = await finalReportOf(db, night.id);
      if (final) {
        await cache.set(entryKey(night.id), JSON.stringify({ key: FINAL, figures: final } satisfies Entry), CACHE_TTL_SECONDS);
        return { figures: final, key: FINAL };
      }
      // `key` was read before the figures: every change it covers committed before they are computed.
      const figures = await computeNightFigures(db, night, await club(), false);
      if (key !== null) await cache.set(entryKey(night.id), JSON.stringify({ key, figures } satisfies Entry), CACHE_TTL_SECONDS);
      return { figures, key };
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
