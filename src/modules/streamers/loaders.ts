import { and, asc, count, desc, eq, isNull, sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { afterCursor, pageValues, preparedPerDatabase } from '../../db/prepared.js';
import { streamers, userStreamers, users, wishlistItems, wishlistPriceChanges } from '../../db/schema.js';
import { listLoader, pageLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';

const queries = preparedPerDatabase((db) => {
  const ids = sql.placeholder('ids');

  /** Newest live items of each streamer after the cursor: one LATERAL statement for all. */
  const wishlistPage = (withCursor: boolean) => {
    const perStreamer = db
      .select()
      .from(wishlistItems)
      .where(
        and(
          eq(wishlistItems.streamerId, streamers.id),
          isNull(wishlistItems.removedAt),
          withCursor ? afterCursor(wishlistItems.firstSeenAt, wishlistItems.id, 'desc') : undefined,
        ),
      )
      .orderBy(desc(wishlistItems.firstSeenAt), desc(wishlistItems.id))
      .limit(sql.placeholder('limit'))
      .as('w');
    return db
      .select(perStreamer._.selectedFields)
      .from(streamers)
      .crossJoinLateral(perStreamer)
      .where(anyId(streamers.id, ids))
      .orderBy(perStreamer.streamerId, desc(perStreamer.firstSeenAt), desc(perStreamer.id))
      .prepare(withCursor ? 'wishlist_page_after' : 'wishlist_page');
  };

  /** Each user's tracked streamers, most recently tracked first: one LATERAL statement for all. */
  const trackedPage = (withCursor: boolean) => {
    const perUser = db
      .select()
      .from(userStreamers)
      .where(
        and(
          eq(userStreamers.userId, users.id),
          withCursor ? afterCursor(userStreamers.trackedAt, userStreamers.streamerId, 'desc') : undefined,
        ),
      )
      .orderBy(desc(userStreamers.trackedAt), desc(userStreamers.streamerId))
      .limit(sql.placeholder('limit'))
      .as('us');
    return db
      .select({ userId: perUser.userId, trackedAt: perUser.trackedAt, streamer: streamers })
      .from(users)
      .crossJoinLateral(perUser)
      .innerJoin(streamers, eq(streamers.id, perUser.streamerId))
      .where(anyId(users.id, ids))
      .orderBy(perUser.userId, desc(perUser.trackedAt), desc(perUser.streamerId))
      .prepare(withCursor ? 'tracked_page_after' : 'tracked_page');
  };

  return {
    streamersById: db.select().from(streamers).where(anyId(streamers.id, ids)).prepare('streamers_by_id'),
    wishlistCounts: db
      .select({ streamerId: wishlistItems.streamerId, count: count() })
      .from(wishlistItems)
      .where(and(anyId(wishlistItems.streamerId, ids), isNull(wishlistItems.removedAt)))
      .groupBy(wishlistItems.streamerId)
      .prepare('wishlist_counts'),
    wishlistPage: wishlistPage(false),
    wishlistPageAfter: wishlistPage(true),
    trackedPage: trackedPage(false),
    trackedPageAfter: trackedPage(true),
    priceChanges: db
      .select()
      .from(wishlistPriceChanges)
      .where(anyId(wishlistPriceChanges.itemId, ids))
      .orderBy(asc(wishlistPriceChanges.itemId), asc(wishlistPriceChanges.changedAt), asc(wishlistPriceChanges.id))
      .prepare('wishlist_price_changes'),
    wishlistItemsById: db.select().from(wishlistItems).where(anyId(wishlistItems.id, ids)).prepare('wishlist_items_by_id'),
  };
});

export function createStreamerLoaders(db: Database, options: BatchOptions) {
  const q = queries(db);
  const streamerById = rowLoader((ids) => q.streamersById.execute({ ids }), (s) => s.id, options);

  const wishlistCountByStreamer = rowLoader((ids) => q.wishlistCounts.execute({ ids }), (row) => row.streamerId, options);

  const wishlistPageByStreamer = pageLoader(
    (streamerIds, page) => (page.after ? q.wishlistPageAfter : q.wishlistPage).execute({ ids: streamerIds, ...pageValues(page) }),
    (item) => item.streamerId,
    options,
  );

  const trackedStreamersByUser = pageLoader(
    async (userIds, page) => {
      const rows = await (page.after ? q.trackedPageAfter : q.trackedPage).execute({ ids: userIds, ...pageValues(page) });
      for (const row of rows) streamerById.prime(row.streamer.id, row.streamer);
      return rows;
    },
    (row) => row.userId,
    options,
  );

  const priceChangesByItem = listLoader((ids) => q.priceChanges.execute({ ids }), (change) => change.itemId, options);
  const wishlistItemById = rowLoader((ids) => q.wishlistItemsById.execute({ ids }), (item) => item.id, options);

  return { streamerById, wishlistCountByStreamer, wishlistPageByStreamer, trackedStreamersByUser, priceChangesByItem, wishlistItemById };
}
