import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { nights, tables } from './clubs.js';
import { users } from './users.js';

export const bookingStatuses = ['held', 'confirmed', 'cancelled', 'expired'] as const;
export type BookingStatus = (typeof bookingStatuses)[number];

export const bookings = pgTable(
  'bookings',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    nightId: uuid('night_id')
      .notNull()
      .references(() => nights.id, { onDelete: 'cascade' }),
    tableId: uuid('table_id')
      .notNull()
      .references(() => tables.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    partySize: integer('party_size').notNull(),
    status: text('status', { enum: bookingStatuses }).notNull().default('held'),
    holdExpiresAt: timestamp('hold_expires_at', { withTimezone: true, precision: 3 }),
    idempotencyKey: text('idempotency_key').notNull(),
    /** Digest of the input the key was first used with; a replay with other input is refused. */
    requestHash: text('request_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    check('bookings_party_size_positive', sql`${t.partySize} > 0`),
    check(
      'bookings_status_valid',
      sql`${t.status} in ('held', 'confirmed', 'cancelled', 'expired')`,
    ),
    check(
      'bookings_hold_has_expiry',
      sql`${t.status} <> 'held' or ${t.holdExpiresAt} is not null`,
    ),
    // The invariant: at most one live (held or confirmed) booking per table per night.
    uniqueIndex('bookings_live_table_key')
      .on(t.nightId, t.tableId)
      .where(sql`${t.status} in ('held', 'confirmed')`),
    uniqueIndex('bookings_user_idempotency_key').on(t.userId, t.idempotencyKey),
    index('bookings_hold_expiry_idx')
      .on(t.holdExpiresAt)
      .where(sql`${t.status} = 'held'`),
    // Serves a user's bookings, newest first, with keyset pagination.
    index('bookings_user_created_idx').on(t.userId, t.createdAt.desc(), t.id.desc()),
    // Serves a night's bookings (Night.bookings), newest first, with keyset pagination.
    // NULLS FIRST, as ORDER BY … DESC sorts: Drizzle's .desc() alone makes DESC NULLS LAST, an
    // order PostgreSQL cannot read `order by created_at desc, id desc` from (it sorts instead).
    index('bookings_night_created_idx').on(t.nightId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
  ],
);

export type Booking = typeof bookings.$inferSelect;
