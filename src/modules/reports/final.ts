import { sql } from 'drizzle-orm';
import { executeRows } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { nightReports, type Night } from '../../db/schema.js';
import { runPeriodically } from '../../platform/periodic.js';
import { computeNightFigures } from './figures.js';
import type { NightReports } from './store.js';

const NIGHTS_PER_RUN = 10;
/** A claimed night whose report another instance wrote first. */
const TAKEN = Symbol('taken');

/**
 * Writes the final report of nights that are over and have none, once each, whichever
 * instances run this at the same time: a night is claimed by locking its row with SKIP
 * LOCKED inside the transaction that computes and inserts its report, so another
 * instance passes over it and, after the commit, no longer sees it due; one that read
 * before that commit and claims the night after it finds the report there on insert and
 * writes nothing (the primary key decides). Returns the
 * nights it wrote; `written` hears of their clubs (live reports cached for them are stale).
 */
export async function writeFinalReports(db: Database, onWritten: (clubIds: string[]) => Promise<void> = async () => {}): Promise<string[]> {
  const written: string[] = [];
  const clubIds: string[] = [];
  for (let i = 0; i < NIGHTS_PER_RUN; i += 1) {
    const nightId = await db.transaction(async (tx) => {
      const [claimed] = await executeRows<Night & { currency: string }>(
        tx,
        sql`select n.id, n.club_id as "clubId", n.starts_at as "startsAt", n.ends_at as "endsAt", c.currency
            from nights n join clubs c on c.id = n.club_id
            where n.ends_at <= now() and not exists (select 1 from night_reports r where r.night_id = n.id)
            order by n.ends_at, n.id limit 1
            for update of n skip locked`,
      );
      if (!claimed) return null;
      const night = { ...claimed, startsAt: new Date(claimed.startsAt), endsAt: new Date(claimed.endsAt) } as Night;
      const figures = await computeNightFigures(tx, night, { currency: claimed.currency }, true);
      // The claim's snapshot predates commits made while it waited: another instance may
      // have written this night's report since. Then nothing is written here.
      const [inserted] = await tx.insert(nightReports).values({ nightId: night.id, figures }).onConflictDoNothing().returning({ nightId: nightReports.nightId });
      if (!inserted) return TAKEN;
      clubIds.push(night.clubId);
      return night.id;
    });
    if (!nightId) break;
    if (nightId !== TAKEN) written.push(nightId);
  }
  if (clubIds.length > 0) await onWritten(clubIds);
  return written;
}

/** Runs `writeFinalReports` every `intervalSeconds` on this instance until stopped. */
export function startFinalReports(
  db: Database,
  reports: Pick<NightReports, 'changed'>,
  intervalSeconds: number,
  onError: (error: unknown) => void,
): { stop(): Promise<void> } {
  return runPeriodically(intervalSeconds, () => writeFinalReports(db, (clubIds) => reports.changed(clubIds)), onError);
}
