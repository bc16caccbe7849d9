import { and, asc, eq, gt, isNull, or, sql, type SQL } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { bookings, clubs, nights, tableSessions, tables, type Table } from '../../db/schema.js';
import { listLoader, pageLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';
import type { Availability, AvailabilitySnapshot } from './availability.js';
import { afterCursor, pageValues, preparedPerDatabase } from '../../db/prepared.js';

export type TableState = 'FREE' | 'HELD' | 'BOOKED' | 'SEATED';

const labelOrder = new Intl.Collator('en', { numeric: true });
export const byLabel = (a: Table, b: Table) => labelOrder.compare(a.label, b.label);

/** One night's table with what occupies it; the row behind `NightTable` and availability. */
export type TableStateRow = Awaited<ReturnType<ReturnType<typeof tableStatesQuery>['execute']>>[number];

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
    tableStates: tableStatesQuery(db, anyId(nights.id, ids)).prepare('table_states'),
  };
});

/** Every table state of the nights, one statement (see `tableStatesQuery`). */
export function selectTableStates(db: Database, nightIds: readonly string[]): Promise<TableStateRow[]> {
  return queries(db).tableStates.execute({ ids: nightIds });
}

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


/**
 * Every table of each night's club with its live booking (held or confirmed), its open
 * session and the resulting state — one statement for all nights. A night without tables
 * yields one row whose `table` is null, so its version survives. A hold past its expiry
 * still shows as held until it is released (by the sweep, or the next hold of the
 * table), which bumps the version: the state depends on the version only, never on the
 * clock, so one version always means one snapshot.
 */
export function tableStatesQuery(db: Database, nightFilter: SQL) {
  return db
    .select({
      nightId: nights.id,
      clubId: nights.clubId,
      version: nights.availabilityVersion,
      currency: clubs.currency,
      table: tables,
      booking: bookings,
      session: tableSessions,
      state: sql<TableState>`case
        when ${tableSessions.id} is not null then 'SEATED'
        when ${bookings.status} = 'confirmed' then 'BOOKED'
        when ${bookings.status} = 'held' then 'HELD'
        else 'FREE' end`,
    })
    .from(nights)
    .innerJoin(clubs, eq(clubs.id, nights.clubId))
    // A retired table stays on the plans of nights that started before it was retired.
    .leftJoin(tables, and(eq(tables.clubId, nights.clubId), or(isNull(tables.retiredAt), gt(tables.retiredAt, nights.startsAt))))
    .leftJoin(
      bookings,
      and(
        eq(bookings.nightId, nights.id),
        eq(bookings.tableId, tables.id),
        or(eq(bookings.status, 'confirmed'), eq(bookings.status, 'held')),
      ),
    )
    .leftJoin(
      tableSessions,
      and(eq(tableSessions.nightId, nights.id), eq(tableSessions.tableId, tables.id), isNull(tableSessions.closedAt)),
    )
    .where(nightFilter);
}
