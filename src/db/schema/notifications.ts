import { sql } from 'drizzle-orm';
import { index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { clubs } from './clubs.js';
import { users } from './users.js';

/** A user's HTTP endpoint for notifications; deliveries are signed with its secret. */
export const webhooks = pgTable(
  'webhooks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    /** HMAC-SHA256 key of the signature header; shown to the user once, at registration. */
    secret: text('secret').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('webhooks_user_url_key').on(t.userId, t.url)],
);

/** A club's message to its guests; one outbox row per recipient carries it. */
export const campaigns = pgTable(
  'campaigns',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clubId: uuid('club_id')
      .notNull()
      .references(() => clubs.id, { onDelete: 'cascade' }),
    message: text('message').notNull(),
    createdBy: uuid('created_by')
      .notNull()
      .references(() => users.id),
    /** Lets a manager's retry return the first campaign instead of sending twice. */
    idempotencyKey: text('idempotency_key'),
    recipients: integer('recipients').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('campaigns_club_idempotency_key').on(t.clubId, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
    index('campaigns_club_created_idx').on(t.clubId, t.createdAt.desc(), t.id.desc()),
  ],
);

export type Webhook = typeof webhooks.$inferSelect;
export type Campaign = typeof campaigns.$inferSelect;
