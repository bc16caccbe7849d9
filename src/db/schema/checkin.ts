import { sql } from 'drizzle-orm';
import { check, index, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { bookings } from './bookings.js';
import { clubs, nights } from './clubs.js';
import { users } from './users.js';

/** A promoter of a club; guests they bring are attributed to their code. */
export const agents = pgTable(
  'agents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clubId: uuid('club_id')
      .notNull()
      .references(() => clubs.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    code: text('code').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('agents_code_key').on(t.code),
    uniqueIndex('agents_club_user_key').on(t.clubId, t.userId),
  ],
);

/** A name on a night's guest list; `token` is what the guest's QR code carries. */
export const guestEntries = pgTable(
  'guest_entries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    nightId: uuid('night_id')
      .notNull()
      .references(() => nights.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    phone: text('phone'),
    agentId: uuid('agent_id').references(() => agents.id),
    token: text('token').notNull(),
    createdBy: uuid('created_by').references(() => users.id),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('guest_entries_token_key').on(t.token),
    // The guest list's order: case-folded name, byte order (the same on every server), then id.
    index('guest_entries_night_name_idx').on(t.nightId, sql`lower(${t.name}) collate "C"`, t.id),
    index('guest_entries_name_trgm_idx').using('gin', t.name.op('gin_trgm_ops')),
    index('guest_entries_night_phone_idx').on(t.nightId, t.phone),
    index('guest_entries_agent_idx').on(t.agentId),
  ],
);

/** One entry through the door: either a guest-list entry or a booking, never both. */
export const checkIns = pgTable(
  'check_ins',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    nightId: uuid('night_id')
      .notNull()
      .references(() => nights.id, { onDelete: 'cascade' }),
    guestEntryId: uuid('guest_entry_id').references(() => guestEntries.id, { onDelete: 'cascade' }),
    bookingId: uuid('booking_id').references(() => bookings.id, { onDelete: 'cascade' }),
    gate: text('gate').notNull(),
    checkedInBy: uuid('checked_in_by').references(() => users.id),
    checkedInAt: timestamp('checked_in_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    check('check_ins_one_subject', sql`num_nonnulls(${t.guestEntryId}, ${t.bookingId}) = 1`),
    // The invariant: one check-in per guest.
    uniqueIndex('check_ins_guest_entry_key').on(t.guestEntryId).where(sql`${t.guestEntryId} is not null`),
    uniqueIndex('check_ins_booking_key').on(t.bookingId).where(sql`${t.bookingId} is not null`),
    index('check_ins_night_time_idx').on(t.nightId, t.checkedInAt.desc(), t.id.desc()),
    index('check_ins_night_gate_time_idx').on(t.nightId, t.gate, t.checkedInAt.desc(), t.id.desc()),
  ],
);

export type Agent = typeof agents.$inferSelect;
export type GuestEntry = typeof guestEntries.$inferSelect;
export type CheckIn = typeof checkIns.$inferSelect;
