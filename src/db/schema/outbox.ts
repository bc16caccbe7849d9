import { sql } from 'drizzle-orm';
import { bigserial, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { campaigns } from './notifications.js';

/**
 * Side effects that must not be lost, written in the same transaction as the change that
 * causes them and delivered by workers that claim rows with FOR UPDATE SKIP LOCKED.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    topic: text('topic').notNull(),
    /** Lets a producer write the same effect twice and have it delivered once. */
    dedupKey: text('dedup_key').notNull(),
    payload: jsonb('payload').notNull(),
    availableAt: timestamp('available_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    leaseToken: uuid('lease_token'),
    leaseUntil: timestamp('lease_until', { withTimezone: true, precision: 3 }),
    /** Targets already reached (e.g. `live`, a webhook id, `telegram`): a retry skips them. */
    deliveredTo: text('delivered_to').array().notNull().default(sql`'{}'::text[]`),
    /**
     * Targets given up for good — the dead-letter of one target: it answered that it will
     * never take this message (Telegram's 4xx other than 429). A retry skips them too, and
     * `last_error` says why; the other targets are delivered as usual.
     */
    givenUp: text('given_up').array().notNull().default(sql`'{}'::text[]`),
    /** The campaign this row carries, for its progress counts. */
    campaignId: uuid('campaign_id').references(() => campaigns.id, { onDelete: 'cascade' }),
    processedAt: timestamp('processed_at', { withTimezone: true, precision: 3 }),
    deadAt: timestamp('dead_at', { withTimezone: true, precision: 3 }),
    lastError: text('last_error'),
    /** The W3C `traceparent` of the work that wrote the row, when it was traced: its delivery links to that trace. */
    traceParent: text('trace_parent'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('outbox_dedup_key').on(t.dedupKey),
    index('outbox_pending_idx')
      .on(t.availableAt, t.id)
      .where(sql`${t.processedAt} is null and ${t.deadAt} is null`),
    index('outbox_dead_idx').on(t.deadAt).where(sql`${t.deadAt} is not null`),
    // A campaign's rows and how many were delivered (progress, the night report's fingerprint), index-only.
    index('outbox_campaign_idx').on(t.campaignId, t.processedAt).where(sql`${t.campaignId} is not null`),
  ],
);

export type OutboxRow = typeof outbox.$inferSelect;
