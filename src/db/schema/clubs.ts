import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  char,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';

export const clubs = pgTable(
  'clubs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    slug: text('slug').notNull().unique(),
    name: text('name').notNull(),
    timezone: text('timezone').notNull(),
    /** ISO 4217 code every deposit and minimum deposit of the club is kept in. */
    currency: char('currency', { length: 3 }).notNull().default('EUR'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    check('clubs_slug_format', sql`${t.slug} ~ '^[a-z0-9]+(-[a-z0-9]+)*$'`),
    check('clubs_currency_format', sql`${t.currency} ~ '^[A-Z]{3}$'`),
  ],
);

/** A bookable table of a club, placed on the club's floor plan (units: plan grid cells). */
export const tables = pgTable(
  'tables',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clubId: uuid('club_id')
      .notNull()
      .references(() => clubs.id, { onDelete: 'cascade' }),
    label: text('label').notNull(),
    capacity: integer('capacity').notNull(),
    minDepositMinor: integer('min_deposit_minor').notNull().default(0),
    zone: text('zone'),
    x: integer('x').notNull(),
    y: integer('y').notNull(),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    /** Set once the table is taken off the plan: no new bookings, never deleted (bookings point at it). */
    retiredAt: timestamp('retired_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    unique('tables_club_label_key').on(t.clubId, t.label),
    check('tables_capacity_positive', sql`${t.capacity} > 0`),
    check('tables_min_deposit_nonnegative', sql`${t.minDepositMinor} >= 0`),
    check('tables_position_nonnegative', sql`${t.x} >= 0 and ${t.y} >= 0`),
    check('tables_size_positive', sql`${t.width} > 0 and ${t.height} > 0`),
  ],
);

export const nightStatuses = ['scheduled', 'cancelled'] as const;
export type NightStatus = (typeof nightStatuses)[number];

export const nights = pgTable(
  'nights',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clubId: uuid('club_id')
      .notNull()
      .references(() => clubs.id, { onDelete: 'cascade' }),
    startsAt: timestamp('starts_at', { withTimezone: true, precision: 3 }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true, precision: 3 }).notNull(),
    /**
     * Bumped in the same transaction as every change to the night's bookings or table
     * sessions; the availability snapshot is keyed by it.
     */
    availabilityVersion: bigint('availability_version', { mode: 'number' }).notNull().default(0),
    status: text('status', { enum: nightStatuses }).notNull().default('scheduled'),
    cancelledAt: timestamp('cancelled_at', { withTimezone: true, precision: 3 }),
    cancelReason: text('cancel_reason'),
  },
  // Also (drizzle/0005_venue_operations.sql, which drizzle-kit cannot express): no two
  // scheduled nights of a club overlap in time — an exclusion constraint on the range. A
  // cancelled night's time is free again.
  (t) => [
    check('nights_ends_after_start', sql`${t.endsAt} > ${t.startsAt}`),
    check('nights_status_valid', sql`${t.status} in ('scheduled', 'cancelled')`),
    check('nights_cancelled_has_time', sql`(${t.status} = 'cancelled') = (${t.cancelledAt} is not null)`),
    index('nights_starts_at_idx').on(t.startsAt),
    // Query.nights: scheduled nights of every club in a window, earliest first.
    index('nights_scheduled_starts_at_idx').on(t.startsAt, t.id).where(sql`${t.status} = 'scheduled'`),
  ],
);

export type Club = typeof clubs.$inferSelect;
export type Table = typeof tables.$inferSelect;
export type Night = typeof nights.$inferSelect;
