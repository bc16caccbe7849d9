import { pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** A person known by the `sub` claim of their token; created on the token's first use. */
export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  subject: text('subject').notNull().unique(),
  displayName: text('display_name'),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

export type User = typeof users.$inferSelect;
