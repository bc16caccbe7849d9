import { and, asc, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { bookings, clubs, nights, tableSessions, tables, type Table } from '../../db/schema.js';
import { listLoader, pageLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';
import type { PageRequest } from '../../graphql/pagination.js';

export type TableState = 'FREE' | 'HELD' | 'BOOKED' | 'SEATED';

const labelOrder = new Intl.Collator('en', { numeric: true });
const byLabel = (a: Table, b: Table) => labelOrder.compare(a.label, b.label);

/** One night's table with what occupies it; the row behind `NightTable` and availability. */
export type TableStateRow = Awaited<ReturnType<typeof selectTableStates>>[number];

export function createClubLoaders(db: Database, options: BatchOptions) {
  const clubById = rowLoader((ids) => db.select().from(clubs).where(inArray(clubs.id, ids)), (c) => c.id, options);
  const tableById = rowLoader((ids) => db.select().from(tables).where(inArray(tables.id, ids)), (t) => t.id, options);
  const nightById = rowLoader((ids) => db.select().from(nights).where(inArray(nights.id, ids)), (n) => n.id, options);

  const tablesByClub = listLoader(
    async (clubIds) => {
      const rows = await db.select().from(tables).where(inArray(tables.clubId, clubIds));
      for (const row of rows) tableById.prime(row.id, row);
      return rows.sort(byLabel);
    },
    (t) => t.clubId,
    options,
  );

  const nightsByClub = pageLoader((clubIds, page) => selectNightPages(db, clubIds, page), (n) => n.clubId, options);

  const tableStatesByNight = listLoader(
    async (nightIds) => {
      const rows = await selectTableStates(db, nightIds);
      for (const row of rows) if (row.table) tableById.prime(row.table.id, row.table);
      return rows.sort((a, b) => (a.table && b.table ? byLabel(a.table, b.table) : 0));
    },
    (row) => row.nightId,
    options,
  );

  return { clubById, tableById, nightById, tablesByClub, nightsByClub, tableStatesByNight };
}

/** The first `page.first + 1` nights of each club after the cursor, earliest first (LATERAL). */
function selectNightPages(db: Database, clubIds: readonly string[], page: PageRequest) {
  const [startsAt, id] = page.after ?? [];
  const perClub = db
    .select()
    .from(nights)
    .where(
      and(
        eq(nights.clubId, clubs.id),
        page.after
          ? sql`(${nights.startsAt}, ${nights.id}) > (${startsAt}::timestamptz, ${id}::uuid)`
          : undefined,
      ),
    )
    .orderBy(asc(nights.startsAt), asc(nights.id))
    .limit(page.first + 1)
    .as('n');
  return db
    .select(perClub._.selectedFields)
    .from(clubs)
    .crossJoinLateral(perClub)
    .where(inArray(clubs.id, clubIds))
    .orderBy(perClub.clubId, perClub.startsAt, perClub.id);
}

/**
 * Every table of each night's club with its live booking (held and unexpired, or
 * confirmed), its open session and the resulting state — one statement for all nights.
 * A night without tables yields one row whose `table` is null, so its version survives.
 */
function selectTableStates(db: Database, nightIds: readonly string[]) {
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
    .leftJoin(tables, eq(tables.clubId, nights.clubId))
    .leftJoin(
      bookings,
      and(
        eq(bookings.nightId, nights.id),
        eq(bookings.tableId, tables.id),
        or(eq(bookings.status, 'confirmed'), and(eq(bookings.status, 'held'), gt(bookings.holdExpiresAt, sql`now()`))),
      ),
    )
    .leftJoin(
      tableSessions,
      and(eq(tableSessions.nightId, nights.id), eq(tableSessions.tableId, tables.id), isNull(tableSessions.closedAt)),
    )
    .where(inArray(nights.id, nightIds));
}
