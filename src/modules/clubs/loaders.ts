import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { clubs, nights, tables } from '../../db/schema.js';
import { listLoader, pageLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';
import type { Availability, AvailabilitySnapshot } from './availability.js';
import { byLabel } from './table-states.js';
import { afterCursor, pageValues, preparedPerDatabase } from '../../db/prepared.js';

const queries = preparedPerDatabase((db) => {
  const ids = sql.placeholder('ids');
  const nightPage = (withCursor: boolean) => {
    const perClub = db
      .select()
      .from(nights)
      .where(
        and(
          eq(nights.clubId, clubs.id),
          withCursor ? afterCursor(nights.startsAt, nights.id, 'asc') : undefined,
        ),
      )
      .orderBy(asc(nights.startsAt), asc(nights.id))
      .limit(sql.placeholder('limit'))
      .as('n');
    return db
      .select(perClub._.selectedFields)
      .from(clubs)
      .crossJoinLateral(perClub)
      .where(anyId(clubs.id, ids))
      .orderBy(perClub.clubId, perClub.startsAt, perClub.id)
      .prepare(withCursor ? 'nights_page_after' : 'nights_page');
  };
  return {
    clubsById: db.select().from(clubs).where(anyId(clubs.id, ids)).prepare('clubs_by_id'),
    tablesById: db.select().from(tables).where(anyId(tables.id, ids)).prepare('tables_by_id'),
    nightsById: db.select().from(nights).where(anyId(nights.id, ids)).prepare('nights_by_id'),
    tablesByClub: db.select().from(tables).where(and(anyId(tables.clubId, ids), isNull(tables.retiredAt))).prepare('tables_by_club'),
    nightPage: nightPage(false),
    nightPageAfter: nightPage(true),
  };
});

export function createClubLoaders(db: Database, options: BatchOptions, availability: Availability) {
  const q = queries(db);
  const clubById = rowLoader((ids) => q.clubsById.execute({ ids }), (c) => c.id, options);
  const tableById = rowLoader((ids) => q.tablesById.execute({ ids }), (t) => t.id, options);
  const nightById = rowLoader((ids) => q.nightsById.execute({ ids }), (n) => n.id, options);

  const tablesByClub = listLoader(
    async (clubIds) => {
      const rows = await q.tablesByClub.execute({ ids: clubIds });
      for (const row of rows) tableById.prime(row.id, row);
      return rows.sort(byLabel);
    },
    (t) => t.clubId,
    options,
  );

  /** The first `page.first + 1` nights of each club after the cursor, earliest first (LATERAL). */
  const nightsByClub = pageLoader(
    (clubIds, page) => (page.after ? q.nightPageAfter : q.nightPage).execute({ ids: clubIds, ...pageValues(page) }),
    (n) => n.clubId,
    options,
  );

  /** Snapshots from the shared store; the nights missing there cost one statement together. */
  const availabilityByNight = rowLoader(
    async (nightIds) => (await availability.load(nightIds)).filter((s): s is AvailabilitySnapshot => s !== null),
    (snapshot) => snapshot.nightId,
    options,
  );

  return { clubById, tableById, nightById, tablesByClub, nightsByClub, availabilityByNight };
}
