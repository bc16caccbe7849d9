import { sql } from 'drizzle-orm';
import { check, index, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { clubs } from './clubs.js';
import { users } from './users.js';

export const staffRoles = ['host', 'manager'] as const;
export type StaffRole = (typeof staffRoles)[number];

/**
 * Who works at a club, kept here so a manager can add and remove hosts and the change
 * holds on the next request on every instance. A removed member keeps the row with
 * `removedAt` set: it also outweighs a token issued before the removal that still
 * names the club.
 */
export const clubStaff = pgTable(
  'club_staff',
  {
    clubId: uuid('club_id')
      .notNull()
      .references(() => clubs.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: staffRoles }).notNull(),
    addedAt: timestamp('added_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    addedBy: uuid('added_by').references(() => users.id, { onDelete: 'set null' }),
    removedAt: timestamp('removed_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    primaryKey({ columns: [t.clubId, t.userId] }),
    check('club_staff_role_valid', sql`${t.role} in ('host', 'manager')`),
    // A caller's memberships, all clubs at once: one statement per request.
    index('club_staff_user_idx').on(t.userId),
  ],
);

export type ClubStaffRow = typeof clubStaff.$inferSelect;
