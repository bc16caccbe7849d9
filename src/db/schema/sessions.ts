import { sql } from 'drizzle-orm';
import {
  char,
  check,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { bookings } from './bookings.js';
import { nights, tables } from './clubs.js';
import { users } from './users.js';

/** A table occupied by a party for part of a night, from seating to closing. */
export const tableSessions = pgTable(
  'table_sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    nightId: uuid('night_id')
      .notNull()
      .references(() => nights.id, { onDelete: 'cascade' }),
    tableId: uuid('table_id')
      .notNull()
      .references(() => tables.id, { onDelete: 'cascade' }),
    bookingId: uuid('booking_id').references(() => bookings.id),
    openedBy: uuid('opened_by')
      .notNull()
      .references(() => users.id),
    openedAt: timestamp('opened_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    closedBy: uuid('closed_by').references(() => users.id),
    closedAt: timestamp('closed_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    check('table_sessions_closed_after_open', sql`${t.closedAt} is null or ${t.closedAt} >= ${t.openedAt}`),
    // The invariant: one open session per table per night.
    uniqueIndex('table_sessions_open_table_key')
      .on(t.nightId, t.tableId)
      .where(sql`${t.closedAt} is null`),
    index('table_sessions_night_table_idx').on(t.nightId, t.tableId, t.openedAt),
    index('table_sessions_booking_idx').on(t.bookingId),
  ],
);

export const deposits = pgTable(
  'deposits',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => tableSessions.id, { onDelete: 'cascade' }),
    amountMinor: integer('amount_minor').notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    recordedBy: uuid('recorded_by')
      .notNull()
      .references(() => users.id),
    recordedAt: timestamp('recorded_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    idempotencyKey: text('idempotency_key').notNull(),
    requestHash: text('request_hash').notNull(),
  },
  (t) => [
    check('deposits_amount_positive', sql`${t.amountMinor} > 0`),
    check('deposits_currency_format', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    uniqueIndex('deposits_recorder_idempotency_key').on(t.recordedBy, t.idempotencyKey),
    // Serves "latest deposit per session" (DISTINCT ON) and the per-session sum.
    index('deposits_session_recorded_idx').on(t.sessionId, t.recordedAt.desc(), t.id.desc()),
  ],
);

export type TableSession = typeof tableSessions.$inferSelect;
export type Deposit = typeof deposits.$inferSelect;
