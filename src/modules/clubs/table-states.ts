import { and, eq, gt, isNull, or, sql, type SQL } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { bookings, clubs, nights, tableSessions, tables, type Table } from '../../db/schema.js';

export type TableState = 'FREE' | 'HELD' | 'BOOKED' | 'SEATED';

const labelOrder = new Intl.Collator('en', { numeric: true });
export const byLabel = (a: Table, b: Table) => labelOrder.compare(a.label, b.label);

/** One night's table with what occupies it; the row behind `NightTable` and availability. */
export type TableStateRow = Awaited<ReturnType<ReturnType<typeof tableStatesQuery>['execute']>>[number];

const queries = preparedPerDatabase((db) => ({
  tableStates: tableStatesQuery(db, anyId(nights.id, sql.placeholder('ids'))).prepare('table_states'),
}));

/** Every table state of the nights, one statement (see `tableStatesQuery`). */
export function selectTableStates(db: Database, nightIds: readonly string[]): Promise<TableStateRow[]> {
  return queries(db).tableStates.execute({ ids: nightIds });
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
