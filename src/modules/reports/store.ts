import { eq, sql } from 'drizzle-orm';
import { executeRows } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { nightReports, type Club, type Night } from '../../db/schema.js';
import type { Cache } from '../../platform/cache.js';
import { computeNightFigures, type NightFigures } from './figures.js';

const CACHE_TTL_SECONDS = 300;

export interface NightReports {
  /**
   * The night's report: its final one once written (one row), else live figures cached
   * in the shared cache under what they were computed from (see `stateOf`), so a reader
   * never gets figures older than a change it saw committed.
   */
  load(night: Night, club: () => Promise<Pick<Club, 'currency'>>): Promise<NightFigures>;
}

/**
 * What a night's live figures depend on, read in one cheap statement of counts over
 * indexes: the night's version (bookings, sessions, tables), its check-ins and deposits,
 * the votes of its sessions (with the latest vote, since a moved vote changes no count)
 * and the delivered campaign messages. Rows are never deleted, so a committed change
 * always changes this; the final report (if any) rides along.
 */
async function stateOf(db: Database, night: Night): Promise<{ key: string; final: NightFigures | null }> {
  const [row] = await executeRows<{ state: string; final: NightFigures | null }>(
    db,
    sql`select concat_ws(':', n.availability_version,
          (select count(*) from check_ins c where c.night_id = n.id),
          (select count(*) from deposits d join table_sessions s on s.id = d.session_id where s.night_id = n.id),
          (select count(*) || '/' || coalesce(max(v.cast_at)::text, '') from votes v join vote_sessions vs on vs.id = v.session_id
             where vs.club_id = n.club_id and vs.started_at >= n.starts_at and vs.started_at < n.ends_at),
          (select count(o.processed_at) from campaigns k join outbox o on o.campaign_id = k.id
             where k.club_id = n.club_id and k.created_at > n.ends_at - interval '7 days' and k.created_at <= n.ends_at)) as state,
        (select r.figures from night_reports r where r.night_id = n.id) as final
        from nights n where n.id = ${night.id}::uuid`,
  );
  return { key: row!.state, final: row!.final };
}

export function createNightReports(db: Database, cache: Cache): NightReports {
  return {
    async load(night, club) {
      const { key, final } = await stateOf(db, night);
      if (final) return final;
      const cacheKey = `night-report:${night.id}:${key}`;
      const cached = await cache.get(cacheKey);
      if (cached) return JSON.parse(cached) as NightFigures;
      const figures = await computeNightFigures(db, night, await club(), false);
      await cache.set(cacheKey, JSON.stringify(figures), CACHE_TTL_SECONDS);
      return figures;
    },
  };
}

/** The stored final report of a night, if written. */
export async function finalReportOf(db: Database, nightId: string): Promise<NightFigures | null> {
  const [row] = await db.select({ figures: nightReports.figures }).from(nightReports).where(eq(nightReports.nightId, nightId));
  return (row?.figures as NightFigures | undefined) ?? null;
}
