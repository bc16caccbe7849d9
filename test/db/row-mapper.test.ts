import * as drizzleOrm from 'drizzle-orm';
import { and, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { describe, expect, it } from 'vitest';
import { compileRowMapper } from '../../src/db/row-mapper.js';
import { bookings, clubs, nights, tableSessions, tables } from '../../src/db/schema.js';

// Drizzle's own mapper, exported at runtime but not in its type declarations.
const { mapResultRow } = drizzleOrm as unknown as { mapResultRow(fields: unknown, row: unknown[], joins?: Record<string, boolean>): Record<string, unknown> };

// Queries are only built and prepared here, never run: no database is opened.
const db = drizzle.mock({ schema: { bookings, clubs, nights, tableSessions, tables } });

function preparedFields(query: { prepare(name: string): unknown }) {
  const prepared = query.prepare('mapper_test') as { fields: { path: string[]; field: unknown }[]; joinsNotNullableMap?: Record<string, boolean> };
  return prepared;
}

describe('the compiled row mapper', () => {
  const select = db
    .select({ nightId: nights.id, version: nights.availabilityVersion, startsAt: nights.startsAt, table: tables, booking: bookings, session: tableSessions, state: sql<string>`'FREE'` })
    .from(nights)
    .innerJoin(clubs, eq(clubs.id, nights.clubId))
    .leftJoin(tables, eq(tables.clubId, nights.clubId))
    .leftJoin(bookings, and(eq(bookings.nightId, nights.id), eq(bookings.tableId, tables.id)))
    .leftJoin(tableSessions, eq(tableSessions.tableId, tables.id));
  const { fields, joinsNotNullableMap } = preparedFields(select);
  const width = fields.length;
  const at = (name: string) => fields.findIndex((f) => f.path.join('.') === name);

  it('maps rows as Drizzle does: nested objects, decoded timestamps and bigints, left-joined tables null when absent', () => {
    const matched = Array.from({ length: width }, () => null as unknown);
    matched[at('nightId')] = 'n1';
    matched[at('version')] = '7';
    matched[at('startsAt')] = '2026-12-05 22:00:00';
    matched[at('table.id')] = 't1';
    matched[at('table.label')] = 'T1';
    matched[at('table.capacity')] = 4;
    matched[at('booking.id')] = 'b1';
    matched[at('booking.createdAt')] = '2026-12-01 10:00:00.123';
    matched[at('state')] = 'BOOKED';
    const rows = [matched, matched.map((v, i) => (fields[i]!.path[0] === 'nightId' || fields[i]!.path[0] === 'state' ? v : null))];
    const ours = compileRowMapper(fields, joinsNotNullableMap)(rows);
    const theirs = rows.map((row) => mapResultRow(fields, row, joinsNotNullableMap));
    expect(ours).toEqual(theirs);
    expect(ours[0]!.startsAt).toBeInstanceOf(Date);
    expect(ours[1]!.table).toBeNull();
    expect(ours[1]!.booking).toBeNull();
  });
});
