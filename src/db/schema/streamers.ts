import { sql } from 'drizzle-orm';
import {
  char,
  check,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { users } from './users.js';

export const streamers = pgTable(
  'streamers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    platform: text('platform').notNull(),
    handle: text('handle').notNull(),
    displayName: text('display_name').notNull(),
    wishlistUrl: text('wishlist_url'),
    /** When the next scheduled wishlist sync is due; claimed by compare-and-set. */
    nextSyncAt: timestamp('next_sync_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    /** Fencing token of the sync that holds the lease; writes check it. */
    syncLeaseToken: uuid('sync_lease_token'),
    syncLeaseUntil: timestamp('sync_lease_until', { withTimezone: true, precision: 3 }),
    /** The instance (host:pid) holding the lease, for operators. */
    syncLeaseOwner: text('sync_lease_owner'),
    lastSyncedAt: timestamp('last_synced_at', { withTimezone: true, precision: 3 }),
    lastSyncError: text('last_sync_error'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('streamers_platform_handle_key').on(t.platform, sql`lower(${t.handle})`),
    index('streamers_next_sync_idx').on(t.nextSyncAt),
    index('streamers_display_name_trgm_idx').using('gin', t.displayName.op('gin_trgm_ops')),
  ],
);

export const userStreamers = pgTable(
  'user_streamers',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    streamerId: uuid('streamer_id')
      .notNull()
      .references(() => streamers.id, { onDelete: 'cascade' }),
    trackedAt: timestamp('tracked_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.streamerId] }),
    // Serves a user's tracked list, newest first, with keyset pagination.
    index('user_streamers_user_tracked_idx').on(t.userId, t.trackedAt.desc(), t.streamerId.desc()),
    index('user_streamers_streamer_idx').on(t.streamerId),
  ],
);

export const wishlistItems = pgTable(
  'wishlist_items',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    streamerId: uuid('streamer_id')
      .notNull()
      .references(() => streamers.id, { onDelete: 'cascade' }),
    externalId: text('external_id').notNull(),
    title: text('title').notNull(),
    priceMinor: integer('price_minor'),
    currency: char('currency', { length: 3 }),
    url: text('url'),
    imageUrl: text('image_url'),
    firstSeenAt: timestamp('first_seen_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    removedAt: timestamp('removed_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    uniqueIndex('wishlist_items_streamer_external_key').on(t.streamerId, t.externalId),
    check('wishlist_items_price_nonnegative', sql`${t.priceMinor} is null or ${t.priceMinor} >= 0`),
    check('wishlist_items_price_has_currency', sql`(${t.priceMinor} is null) = (${t.currency} is null)`),
    // Serves "newest live items per streamer" (LATERAL … LIMIT n) and the live-item count.
    index('wishlist_items_streamer_live_idx')
      .on(t.streamerId, t.firstSeenAt.desc(), t.id.desc())
      .where(sql`${t.removedAt} is null`),
  ],
);

/** Every price change a sync saw, oldest first per item. */
export const wishlistPriceChanges = pgTable(
  'wishlist_price_changes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    itemId: uuid('item_id')
      .notNull()
      .references(() => wishlistItems.id, { onDelete: 'cascade' }),
    oldPriceMinor: integer('old_price_minor'),
    oldCurrency: char('old_currency', { length: 3 }),
    newPriceMinor: integer('new_price_minor'),
    newCurrency: char('new_currency', { length: 3 }),
    changedAt: timestamp('changed_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index('wishlist_price_changes_item_idx').on(t.itemId, t.changedAt, t.id)],
);

export type Streamer = typeof streamers.$inferSelect;
export type UserStreamer = typeof userStreamers.$inferSelect;
export type WishlistItem = typeof wishlistItems.$inferSelect;
export type WishlistPriceChange = typeof wishlistPriceChanges.$inferSelect;
